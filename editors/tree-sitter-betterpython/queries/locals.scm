; Scopes, definitions and references for BetterPython.

[
  (source_file)
  (function_definition)
  (lambda)
  (block)
  (struct_definition)
  (class_definition)
] @local.scope

(function_definition name: (identifier) @local.definition.function)
(extern_declaration name: (identifier) @local.definition.function)
(parameter name: (identifier) @local.definition.parameter)
(global_declaration name: (identifier) @local.definition.var)
(let_statement pattern: (identifier) @local.definition.var)
(tuple_pattern (identifier) @local.definition.var)
(pattern_list (identifier) @local.definition.var)
(for_statement left: (identifier) @local.definition.var)
(catch_clause name: (identifier) @local.definition.var)
(struct_definition name: (identifier) @local.definition.type)
(class_definition name: (identifier) @local.definition.type)
(enum_definition name: (identifier) @local.definition.type)
(field_declaration name: (identifier) @local.definition.field)
(import_statement module: (identifier) @local.definition.import)
(import_statement alias: (identifier) @local.definition.import)
(import_statement name: (identifier) @local.definition.import)

(identifier) @local.reference
