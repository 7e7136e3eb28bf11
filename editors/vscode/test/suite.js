// Tokenize every program of the repository's test suite (tests/programs/, examples/)
// with the TextMate grammar and fail if one leaves a begin/end rule open at the end of
// the file (an unterminated string, interpolation or signature rule that would
// mis-highlight the rest of the file). Programs that bp itself rejects may be left
// open (an unterminated string is the point of some of them): they are listed but do
// not fail the test when their name says they are errors.
'use strict';
const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const root = path.resolve(__dirname, '..', '..', '..');
const grammarPath = path.join(__dirname, '..', 'syntaxes', 'betterpython.tmLanguage.json');

function programs(dir, out) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) programs(p, out);
    else if (e.name.endsWith('.bp')) out.push(p);
  }
  return out;
}

(async () => {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (p) => new oniguruma.OnigScanner(p),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath),
  });
  const grammar = await registry.loadGrammar('source.betterpython');
  const files = [...programs(path.join(root, 'tests', 'programs'), []), ...programs(path.join(root, 'examples'), [])].sort();
  const failed = [];
  let tolerated = 0;
  for (const f of files) {
    let stack = vsctm.INITIAL;
    let openSince = 0;
    fs.readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      stack = grammar.tokenizeLine(line, stack).ruleStack;
      if (stack.depth <= 1) openSince = 0;
      else if (!openSince) openSince = i + 1;
    });
    if (stack.depth > 1) {
      const rel = path.relative(root, f);
      if (/errors_compile|_error\.bp$/.test(rel)) tolerated++;
      else failed.push(`${rel}: a rule opened on line ${openSince} is still open at the end`);
    }
  }
  console.log(`tokenized ${files.length} programs; ${failed.length} left a rule open (${tolerated} error programs tolerated)`);
  if (failed.length) {
    console.error(failed.join('\n'));
    process.exit(1);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
