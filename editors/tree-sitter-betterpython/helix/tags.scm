; Symbols for code navigation (tree-sitter tags).

(function_definition
  name: (identifier) @name) @definition.function

(extern_declaration
  name: (identifier) @name) @definition.function

(struct_definition
  name: (identifier) @name) @definition.class

(class_definition
  name: (identifier) @name) @definition.class

(enum_definition
  name: (identifier) @name) @definition.class

(global_declaration
  name: (identifier) @name) @definition.constant

(import_statement
  module: (identifier) @name) @reference.module

(call
  function: (identifier) @name) @reference.call

(method_call
  method: (identifier) @name) @reference.call

(new_expression
  class: (identifier) @name) @reference.class

(struct_literal
  name: (identifier) @name) @reference.class
