; Scopes, definitions and references for BetterPython in Helix (the suffix of a
; definition is the highlight of its references).

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
(parameter name: (identifier) @local.definition.variable.parameter)
(global_declaration name: (identifier) @local.definition.variable)
(let_statement pattern: (identifier) @local.definition.variable)
(tuple_pattern (identifier) @local.definition.variable)
(pattern_list (identifier) @local.definition.variable)
(for_statement left: (identifier) @local.definition.variable)
(catch_clause name: (identifier) @local.definition.variable)
(field_declaration name: (identifier) @local.definition.variable.other.member)
(import_statement module: (identifier) @local.definition.namespace)
(import_statement alias: (identifier) @local.definition.namespace)
(import_statement name: (identifier) @local.definition.function)

(identifier) @local.reference
