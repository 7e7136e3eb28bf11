; Highlighting for BetterPython in Helix: queries/highlights.scm with the capture
; names of Helix themes (https://docs.helix-editor.com/themes.html#scopes).
; Later patterns take precedence (Helix 25.07 and later, as in Neovim).

(identifier) @variable

; Types
(type_identifier) @type
((type_identifier) @type.builtin
  (#any-of? @type.builtin
    "int" "float" "bool" "str" "void" "i8" "i16" "i32" "i64" "u8" "u16" "u32" "u64"))
(primitive_type) @type.builtin

; Definitions
(function_definition name: (identifier) @function)
(extern_declaration name: (identifier) @function)
(struct_definition name: (identifier) @type)
(class_definition name: (identifier) @type)
(class_definition superclass: (identifier) @type)
(enum_definition name: (identifier) @type)
(enum_variant name: (identifier) @constant)
(field_declaration name: (identifier) @variable.other.member)
(parameter name: (identifier) @variable.parameter)
(self_parameter) @variable.builtin
(import_statement module: (identifier) @namespace)
(import_statement alias: (identifier) @namespace)
(import_statement name: (identifier) @function)

(decorator "@" @attribute name: (identifier) @attribute)

; Calls and members
(call function: (identifier) @function)
((call function: (identifier) @function.builtin)
  (#any-of? @function.builtin
    "abs" "acos" "argc" "argv" "array_clear" "array_concat" "array_contains" "array_copy" "array_fill" "array_index_of" "array_insert" "array_len" "array_pop" "array_push" "array_remove" "array_reverse" "array_slice" "array_sort" "asin" "atan" "atan2" "base64_decode" "base64_encode" "bit_and" "bit_not" "bit_or" "bit_shl" "bit_shr" "bit_xor" "bytes_append" "bytes_get" "bytes_len" "bytes_new" "bytes_read_i64" "bytes_read_u16" "bytes_read_u32" "bytes_set" "bytes_to_str" "bytes_write_i64" "bytes_write_u16" "bytes_write_u32" "ceil" "chr" "clamp" "clock_ms" "cond_broadcast" "cond_new" "cond_signal" "cond_wait" "cos" "ends_with" "exit" "exp" "fabs" "fceil" "ffloor" "file_append" "file_copy" "file_delete" "file_exists" "file_read" "file_read_bytes" "file_size" "file_write" "file_write_bytes" "float_to_int" "float_to_str" "floor" "fpow" "fround" "fsqrt" "getenv" "hash_md5" "hash_sha256" "hex_to_int" "int_from_bytes" "int_to_bytes" "int_to_float" "int_to_hex" "is_alnum" "is_alpha" "is_digit" "is_inf" "is_nan" "is_space" "len" "log" "log10" "log2" "map_delete" "map_has_key" "map_keys" "map_len" "map_values" "max" "min" "mutex_lock" "mutex_new" "mutex_trylock" "mutex_unlock" "ord" "parse_int" "pow" "rand" "rand_range" "rand_seed" "random_bytes" "regex_find_all" "regex_match" "regex_replace" "regex_search" "regex_split" "round" "secure_compare" "sign" "sin" "sleep" "sqrt" "starts_with" "str_bytes" "str_char_at" "str_concat_all" "str_contains" "str_count" "str_find" "str_from_chars" "str_index_of" "str_join" "str_join_arr" "str_lower" "str_pad_left" "str_pad_right" "str_repeat" "str_replace" "str_reverse" "str_split" "str_split_str" "str_to_bytes" "str_to_float" "str_trim" "str_upper" "substr" "tan" "thread_current" "thread_sleep" "thread_yield" "to_str" "print" "typeof"))
(method_call method: (identifier) @function.method)
(field_expression field: (identifier) @variable.other.member)
(field_expression field: (tuple_index) @constant.numeric.integer)
(method_call method: (tuple_index) @constant.numeric.integer)
(struct_literal name: (identifier) @type)
(field_initializer name: (identifier) @variable.other.member)
(new_expression class: (identifier) @type)
(super_call method: (identifier) @function.method)

; Literals
(integer) @constant.numeric.integer
(float) @constant.numeric.float
(enum_value) @constant.numeric.integer
[(true) (false)] @constant.builtin.boolean
(self) @variable.builtin
(string) @string
(fstring) @string
(string_content) @string
(escape_sequence) @constant.character.escape
(interpolation "{" @punctuation.special "}" @punctuation.special)
(interpolation_string) @string
(comment) @comment

; Keywords
[
  "def" "struct" "class" "enum" "let" "fn"
] @keyword

[
  "import" "as" "from" "extern"
] @keyword.control.import

(export) @keyword.storage.modifier

[
  "if" "elif" "else" "match" "case" "default"
] @keyword.control.conditional

[
  "while" "for" "in" "break" "continue"
] @keyword.control.repeat

[
  "try" "catch" "finally" "throw"
] @keyword.control.exception

"return" @keyword.control.return

[
  "pass" "assert" "new" "super"
] @keyword

[
  "and" "or" "not" "is" "as"
] @keyword.operator

(null) @constant.builtin

(nullable_type "?" @operator)

(qualified_type module: (identifier) @namespace)
(qualified_name module: (identifier) @namespace)
(struct_literal module: (identifier) @namespace)

; Operators and punctuation
[
  "+" "-" "*" "/" "%" "==" "!=" "<" "<=" ">" ">=" "&" "|" "^" "~" "<<" ">>" "=" "->"
] @operator

["(" ")" "[" "]" "{" "}"] @punctuation.bracket
["," "." ":"] @punctuation.delimiter
