// External scanner for tree-sitter-betterpython: NEWLINE, INDENT and DEDENT.
//
// It follows the layout rules of the Rust lexer (src/lexer/mod.rs):
// - only `\n` ends a line (`\r` is whitespace);
// - a newline inside brackets continues the line: the grammar never allows NEWLINE
//   there, so the scanner is not asked for one and the newline is skipped as an extra;
// - blank lines and comment-only lines do not count for indentation;
// - a form feed resets the column, a tab counts as up to the next multiple of 8 (the
//   real lexer reports tabs in indentation as an error).
//
// All three tokens are zero-width, at the end of the previous line's content.

#include "tree_sitter/parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum TokenType { NEWLINE, INDENT, DEDENT, ERROR_SENTINEL };

#define MAX_DEPTH 1024

typedef struct {
  uint32_t len;
  uint16_t indents[MAX_DEPTH];
} Scanner;

void *tree_sitter_betterpython_external_scanner_create(void) {
  Scanner *s = calloc(1, sizeof(Scanner));
  s->indents[0] = 0;
  s->len = 1;
  return s;
}

void tree_sitter_betterpython_external_scanner_destroy(void *payload) { free(payload); }

unsigned tree_sitter_betterpython_external_scanner_serialize(void *payload, char *buffer) {
  Scanner *s = payload;
  unsigned n = 0;
  // indents[0] is always 0: store the rest.
  for (uint32_t i = 1; i < s->len && n + 2 <= TREE_SITTER_SERIALIZATION_BUFFER_SIZE; i++) {
    buffer[n++] = (char)(s->indents[i] & 0xff);
    buffer[n++] = (char)(s->indents[i] >> 8);
  }
  return n;
}

void tree_sitter_betterpython_external_scanner_deserialize(void *payload, const char *buffer,
                                                           unsigned length) {
  Scanner *s = payload;
  s->indents[0] = 0;
  s->len = 1;
  for (unsigned i = 0; i + 1 < length && s->len < MAX_DEPTH; i += 2) {
    s->indents[s->len++] = (uint16_t)((uint8_t)buffer[i] | ((uint8_t)buffer[i + 1] << 8));
  }
}

static void skip(TSLexer *lexer) { lexer->advance(lexer, true); }

bool tree_sitter_betterpython_external_scanner_scan(void *payload, TSLexer *lexer,
                                                    const bool *valid_symbols) {
  Scanner *s = payload;
  // During error recovery every symbol is valid: let the internal lexer work.
  if (valid_symbols[ERROR_SENTINEL]) return false;

  lexer->mark_end(lexer);
  bool found_end_of_line = false;
  uint32_t indent = 0;
  int32_t first_comment_indent = -1;
  for (;;) {
    int32_t c = lexer->lookahead;
    if (c == '\n') {
      found_end_of_line = true;
      indent = 0;
      skip(lexer);
    } else if (c == ' ') {
      indent++;
      skip(lexer);
    } else if (c == '\t') {
      indent = (indent / 8 + 1) * 8;
      skip(lexer);
    } else if (c == '\f') {
      indent = 0;
      skip(lexer);
    } else if (c == '\r') {
      skip(lexer);
    } else if (c == '#') {
      // A comment: only its line end matters. It is lexed again later as an extra.
      if (first_comment_indent == -1 && found_end_of_line) first_comment_indent = (int32_t)indent;
      while (lexer->lookahead && lexer->lookahead != '\n' && !lexer->eof(lexer)) skip(lexer);
    } else if (lexer->eof(lexer)) {
      indent = 0;
      found_end_of_line = true;
      break;
    } else {
      break;
    }
  }

  if (!found_end_of_line) return false;

  uint16_t current = s->indents[s->len - 1];
  if (valid_symbols[INDENT] && indent > current && s->len < MAX_DEPTH) {
    s->indents[s->len++] = (uint16_t)indent;
    lexer->result_symbol = INDENT;
    return true;
  }
  // A comment-only line still indented as the block (before a dedent) stays in the
  // block: dedent after it.
  if (valid_symbols[DEDENT] && indent < current && s->len > 1 &&
      first_comment_indent < (int32_t)current) {
    s->len--;
    lexer->result_symbol = DEDENT;
    return true;
  }
  // A line indented more where no block may start: no NEWLINE either, so that the
  // parser reports it (the Rust parser says "unexpected indentation").
  if (indent > current) return false;
  if (valid_symbols[NEWLINE]) {
    lexer->result_symbol = NEWLINE;
    return true;
  }
  return false;
}
