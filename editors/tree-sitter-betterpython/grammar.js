/**
 * @file tree-sitter grammar for BetterPython (the language as the Rust parser of
 * this repository accepts it: src/parser/mod.rs and src/parser/expr.rs).
 *
 * Layout (NEWLINE, INDENT, DEDENT) comes from the external scanner in
 * src/scanner.c: only `\n` ends a line, newlines inside brackets continue it, and
 * blank or comment-only lines do not count.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

const PREC = {
  lambda: 0,
  or: 1,
  and: 2,
  bit_or: 3,
  bit_xor: 4,
  bit_and: 5,
  equality: 6,
  comparison: 7,
  shift: 8,
  additive: 9,
  multiplicative: 10,
  cast: 11,
  unary: 12,
  postfix: 13,
  nullable: 14,
};

/** @param {RuleOrLiteral} rule */
const commaSep = (rule) => optional(seq(rule, repeat(seq(',', rule)), optional(',')));
/** @param {RuleOrLiteral} rule */
const commaSep1 = (rule) => seq(rule, repeat(seq(',', rule)), optional(','));

module.exports = grammar({
  name: 'betterpython',

  externals: ($) => [$._newline, $._indent, $._dedent, $._error_sentinel],

  extras: ($) => [/[ \t\r\f\n]/, $.comment],

  word: ($) => $.identifier,

  supertypes: ($) => [$._expression, $._statement, $._type],

  // `a.b` is a field unless `{` follows (`geo.Point{x: 1}`, a struct of module `a`).
  conflicts: ($) => [[$._expression, $.struct_literal]],

  rules: {
    source_file: ($) => repeat($._item),

    _item: ($) =>
      choice(
        $.function_definition,
        $.struct_definition,
        $.enum_definition,
        $.class_definition,
        $.global_declaration,
        $.import_statement,
        $.extern_declaration,
        $.decorated_definition,
      ),

    // `@packed` (the only decorator the parser knows; it warns elsewhere than
    // before a struct).
    decorated_definition: ($) =>
      seq(
        repeat1($.decorator),
        field(
          'definition',
          choice(
            $.function_definition,
            $.struct_definition,
            $.enum_definition,
            $.class_definition,
            $.global_declaration,
            $.extern_declaration,
          ),
        ),
      ),

    decorator: ($) => seq('@', field('name', $.identifier), optional($._newline)),

    export: (_) => 'export',

    // ---- items ----------------------------------------------------------------

    function_definition: ($) =>
      seq(
        optional($.export),
        'def',
        field('name', $.identifier),
        field('parameters', $.parameters),
        '->',
        field('return_type', $._type),
        field('body', $.block),
      ),

    parameters: ($) => seq('(', commaSep(choice($.parameter, $.self_parameter)), ')'),

    parameter: ($) => seq(field('name', $.identifier), ':', field('type', $._type)),

    self_parameter: ($) => seq('self', optional(seq(':', field('type', $._type)))),

    struct_definition: ($) =>
      seq(
        optional($.export),
        'struct',
        field('name', $.identifier),
        ':',
        field('body', $.member_block),
      ),

    class_definition: ($) =>
      seq(
        optional($.export),
        'class',
        field('name', $.identifier),
        optional(seq('(', field('superclass', $._class_name), ')')),
        ':',
        field('body', $.member_block),
      ),

    member_block: ($) =>
      seq(
        $._indent,
        repeat1(choice($.field_declaration, $.function_definition, $.pass_statement)),
        $._dedent,
      ),

    field_declaration: ($) =>
      seq(field('name', $.identifier), ':', field('type', $._type), $._newline),

    enum_definition: ($) =>
      seq(
        optional($.export),
        'enum',
        field('name', $.identifier),
        ':',
        field('body', $.enum_block),
      ),

    enum_block: ($) =>
      seq($._indent, repeat1(choice($.enum_variant, $.pass_statement)), $._dedent),

    enum_variant: ($) =>
      seq(
        field('name', $.identifier),
        optional(seq('=', field('value', alias(seq(optional('-'), $.integer), $.enum_value)))),
        $._newline,
      ),

    global_declaration: ($) =>
      seq(
        optional($.export),
        'let',
        field('name', $.identifier),
        ':',
        field('type', $._type),
        '=',
        field('value', $._expression),
        $._newline,
      ),

    import_statement: ($) =>
      seq(
        'import',
        field('module', $.identifier),
        optional(seq('as', field('alias', $.identifier))),
        optional(seq('(', commaSep(field('name', $.identifier)), ')')),
        $._newline,
      ),

    extern_declaration: ($) =>
      seq(
        optional($.export),
        'extern',
        'fn',
        field('name', $.identifier),
        field('parameters', $.parameters),
        '->',
        field('return_type', $._type),
        'from',
        field('library', $.string),
        optional(seq('as', field('symbol', $.string))),
        $._newline,
      ),

    // ---- types ----------------------------------------------------------------

    _type: ($) =>
      choice(
        alias($.identifier, $.type_identifier),
        $.qualified_type,
        $.nullable_type,
        $.primitive_type,
        $.array_type,
        $.map_type,
        $.tuple_type,
        $.function_type,
        $.channel_type,
      ),

    primitive_type: (_) => 'ptr',

    // `geo.Point`: a type of an imported module.
    qualified_type: ($) =>
      seq(field('module', $.identifier), '.', field('name', alias($.identifier, $.type_identifier))),

    // `Node?`: a reference or null.
    nullable_type: ($) => prec(PREC.nullable, seq($._type, '?')),

    // A class named in `new`, `is`, `as` and a class header: `C` or `module.C`.
    _class_name: ($) => choice($.identifier, $.qualified_name),

    // After `new`, `is`, `as` or in a class header, `a.b` is always a qualified name.
    qualified_name: ($) =>
      prec(PREC.nullable + 1, seq(field('module', $.identifier), '.', field('name', $.identifier))),

    array_type: ($) => seq('[', field('element', $._type), ']'),

    // `chan[int]`: a channel between threads.
    channel_type: ($) => seq('chan', '[', field('element', $._type), ']'),

    map_type: ($) => seq('{', field('key', $._type), ':', field('value', $._type), '}'),

    tuple_type: ($) => seq('(', commaSep($._type), ')'),

    function_type: ($) =>
      prec.right(seq('fn', '(', commaSep($._type), ')', '->', field('return_type', $._type))),

    // ---- statements -----------------------------------------------------------

    block: ($) => seq(':', $._indent, repeat1($._statement), $._dedent),

    _statement: ($) =>
      choice(
        $.let_statement,
        // A `def` nested in a function body (a local function).
        $.function_definition,
        $.if_statement,
        $.while_statement,
        $.for_statement,
        $.match_statement,
        $.try_statement,
        $.assert_statement,
        $.throw_statement,
        $.break_statement,
        $.continue_statement,
        $.pass_statement,
        $.return_statement,
        $.assignment,
        $.expression_statement,
      ),

    let_statement: ($) =>
      seq(
        'let',
        field('pattern', choice($.identifier, $.tuple_pattern)),
        ':',
        field('type', $._type),
        '=',
        field('value', $._expression),
        $._newline,
      ),

    _pattern: ($) => choice($.identifier, $.tuple_pattern),

    tuple_pattern: ($) => seq('(', commaSep1($._pattern), ')'),

    // `for k, v in xs:` (a pattern list without parentheses).
    pattern_list: ($) => seq($._pattern, repeat1(seq(',', $._pattern)), optional(',')),

    if_statement: ($) =>
      seq(
        'if',
        field('condition', $._expression),
        field('consequence', $.block),
        repeat(field('alternative', $.elif_clause)),
        optional(field('alternative', $.else_clause)),
      ),

    elif_clause: ($) => seq('elif', field('condition', $._expression), field('consequence', $.block)),

    else_clause: ($) => seq('else', field('body', $.block)),

    while_statement: ($) => seq('while', field('condition', $._expression), field('body', $.block)),

    for_statement: ($) =>
      seq(
        'for',
        field('left', choice($._pattern, $.pattern_list)),
        'in',
        field('right', $._expression),
        field('body', $.block),
      ),

    match_statement: ($) =>
      seq(
        'match',
        field('subject', $._expression),
        ':',
        field('body', alias($._match_block, $.match_block)),
      ),

    _match_block: ($) =>
      seq($._indent, repeat1(choice($.case_clause, $.default_clause)), $._dedent),

    case_clause: ($) => seq('case', field('value', $._expression), field('body', $.block)),

    default_clause: ($) => seq('default', field('body', $.block)),

    try_statement: ($) =>
      seq(
        'try',
        field('body', $.block),
        optional($.catch_clause),
        optional($.finally_clause),
      ),

    catch_clause: ($) => seq('catch', optional(field('name', $.identifier)), field('body', $.block)),

    finally_clause: ($) => seq('finally', field('body', $.block)),

    assert_statement: ($) =>
      seq(
        'assert',
        field('condition', $._expression),
        optional(seq(',', field('message', $._expression))),
        $._newline,
      ),

    throw_statement: ($) => seq('throw', $._expression, $._newline),

    break_statement: ($) => seq('break', $._newline),

    continue_statement: ($) => seq('continue', $._newline),

    pass_statement: ($) => seq('pass', $._newline),

    return_statement: ($) => seq('return', optional($._expression), $._newline),

    // The parser accepts a variable, an element `a[i]` or a field `x.f` on the left.
    assignment: ($) =>
      seq(
        field('left', choice($.identifier, $.index_expression, $.field_expression)),
        '=',
        field('right', $._expression),
        $._newline,
      ),

    expression_statement: ($) => seq($._expression, $._newline),

    // ---- expressions ----------------------------------------------------------

    _expression: ($) =>
      choice(
        $.identifier,
        $.integer,
        $.float,
        $.string,
        $.fstring,
        $.true,
        $.false,
        $.null,
        $.self,
        $.call,
        $.is_expression,
        $.as_expression,
        $.struct_literal,
        $.parenthesized_expression,
        $.tuple,
        $.array,
        $.map,
        $.lambda,
        $.new_expression,
        $.super_call,
        $.unary_expression,
        $.binary_expression,
        $.index_expression,
        $.field_expression,
        $.method_call,
        $.interpolation_string,
      ),

    binary_expression: ($) => {
      /** @type {[number, RuleOrLiteral][]} */
      const table = [
        [PREC.or, 'or'],
        [PREC.and, 'and'],
        [PREC.bit_or, '|'],
        [PREC.bit_xor, '^'],
        [PREC.bit_and, '&'],
        [PREC.equality, choice('==', '!=')],
        [PREC.comparison, choice('<', '<=', '>', '>=')],
        [PREC.shift, choice('<<', '>>')],
        [PREC.additive, choice('+', '-')],
        [PREC.multiplicative, choice('*', '/', '%')],
      ];
      return choice(
        ...table.map(([p, op]) =>
          prec.left(
            p,
            seq(field('left', $._expression), field('operator', op), field('right', $._expression)),
          ),
        ),
      );
    },

    // `x is C`: a comparison; `x as C`: tighter than `*`, looser than `-`.
    is_expression: ($) =>
      prec.left(PREC.comparison, seq(field('value', $._expression), 'is', field('class', $._class_name))),

    as_expression: ($) =>
      prec.left(PREC.cast, seq(field('value', $._expression), 'as', field('class', $._class_name))),

    // `not` binds as tightly as `-` (LANGUAGE.md §6.1): `not a == b` is `(not a) == b`.
    unary_expression: ($) =>
      prec(PREC.unary, seq(field('operator', choice('-', 'not', '~')), field('operand', $._expression))),

    index_expression: ($) =>
      prec(PREC.postfix, seq(field('object', $._expression), '[', field('index', $._expression), ']')),

    field_expression: ($) =>
      prec(PREC.postfix, seq(field('object', $._expression), '.', field('field', $._field_name))),

    // `t.0`, `t.1.0`: tuple elements.
    _field_name: ($) => choice($.identifier, alias($._tuple_index, $.tuple_index)),

    _tuple_index: (_) => /[0-9]+/,

    // `a.m(x)` is a method call (or a call of a function field), not `(a.m)(x)`.
    method_call: ($) =>
      prec(
        PREC.postfix + 1,
        seq(
          field('object', $._expression),
          '.',
          field('method', $._field_name),
          field('arguments', $.arguments),
        ),
      ),

    // Any expression of a function type can be called: `f(x)`, `make()(1)`, `fs[0](x)`.
    call: ($) => prec(PREC.postfix, seq(field('function', $._expression), field('arguments', $.arguments))),

    arguments: ($) => seq('(', commaSep($._expression), ')'),

    // `Point{x: 1}`, or `geo.Point{x: 1}` for a struct of module `geo`.
    struct_literal: ($) =>
      seq(
        optional(seq(field('module', $.identifier), '.')),
        field('name', $.identifier),
        '{',
        commaSep($.field_initializer),
        '}',
      ),

    field_initializer: ($) => seq(field('name', $.identifier), ':', field('value', $._expression)),

    parenthesized_expression: ($) => seq('(', $._expression, ')'),

    tuple: ($) =>
      choice(
        seq('(', ')'),
        seq('(', $._expression, ',', ')'),
        seq('(', $._expression, repeat1(seq(',', $._expression)), optional(','), ')'),
      ),

    array: ($) => seq('[', commaSep($._expression), ']'),

    map: ($) => seq('{', commaSep($.pair), '}'),

    pair: ($) => seq(field('key', $._expression), ':', field('value', $._expression)),

    lambda: ($) =>
      prec.right(
        PREC.lambda,
        seq(
          'fn',
          field('parameters', $.parameters),
          '->',
          field('return_type', $._type),
          ':',
          field('body', $._expression),
        ),
      ),

    new_expression: ($) =>
      seq('new', field('class', $._class_name), field('arguments', $.arguments)),

    super_call: ($) =>
      seq('super', optional(seq('.', field('method', $.identifier))), field('arguments', $.arguments)),

    // ---- literals -------------------------------------------------------------

    identifier: (_) => /[A-Za-z_][A-Za-z0-9_]*/,

    integer: (_) => token(choice(/0[xX][0-9A-Za-z_]+/, /0[bB][0-9A-Za-z_]+/, /[0-9]+/)),

    float: (_) =>
      token(choice(/[0-9]+\.[0-9]+([eE][+-]?[0-9]+)?/, /[0-9]+[eE][+-]?[0-9]+/)),

    true: (_) => 'true',
    false: (_) => 'false',
    self: (_) => 'self',
    null: (_) => 'null',

    // Strings may span lines (a raw newline is part of the string).
    string: ($) =>
      seq(
        '"',
        repeat(choice(alias($._string_content, $.string_content), $.escape_sequence)),
        token.immediate('"'),
      ),

    _string_content: (_) => token.immediate(prec(1, /[^"\\]+/)),

    escape_sequence: (_) => token.immediate(choice(/\\x[0-9A-Fa-f]{2}/, /\\[^x]/)),

    fstring: ($) =>
      seq(
        'f"',
        repeat(
          choice(
            alias($._fstring_content, $.string_content),
            $.escape_sequence,
            alias(token.immediate(choice('{{', '}}')), $.escape_sequence),
            $.interpolation,
          ),
        ),
        token.immediate('"'),
      ),

    _fstring_content: (_) => token.immediate(prec(1, /[^"\\{}]+/)),

    interpolation: ($) =>
      seq(token.immediate('{'), field('expression', $._expression), '}'),

    // Inside `{...}` of an f-string a quote is written `\"`: f"{m[\"key\"]}".
    interpolation_string: (_) => token(seq('\\"', repeat(choice(/[^"\\]/, /\\[^"]/)), '\\"')),

    comment: (_) => token(seq('#', /[^\n]*/)),
  },
});
