// VS Code client for BetterPython: starts `bp lsp` (the language server) over stdio.
// Highlighting, brackets and indentation come from the TextMate grammar and the
// language configuration, so they work even when the server cannot be started.
'use strict';

const vscode = require('vscode');
const { spawnSync } = require('child_process');
const path = require('path');

/** @type {import('vscode-languageclient/node').LanguageClient | undefined} */
let client;
/** @type {vscode.OutputChannel | undefined} */
let output;

function serverPath() {
  const config = vscode.workspace.getConfiguration('betterpython');
  const p = (config.get('server.path', 'bp') || '').trim() || 'bp';
  // A relative path with a directory (`target/release/bp`) is relative to the first
  // workspace folder; a bare name is looked up on the PATH.
  const folders = vscode.workspace.workspaceFolders;
  if (!path.isAbsolute(p) && p.includes('/') && folders && folders.length > 0) {
    return path.join(folders[0].uri.fsPath, p);
  }
  return p;
}

/**
 * Whether `<bp> lsp` exists: `bp lsp --help` succeeds only with a `bp` that has the
 * `lsp` subcommand (an older `bp` rejects an unknown subcommand; a missing file fails
 * to spawn).
 * @param {string} bp
 * @returns {string | undefined} why it cannot be used, or undefined when it can
 */
function checkServer(bp) {
  const r = spawnSync(bp, ['lsp', '--help'], { encoding: 'utf8', timeout: 10000 });
  if (r.error) {
    return `cannot run '${bp}' (${r.error.message})`;
  }
  if (r.status !== 0) {
    const detail = (r.stderr || r.stdout || '').trim().split('\n')[0];
    return `'${bp} lsp' is not available in this version of bp${detail ? ` (${detail})` : ''}`;
  }
  return undefined;
}

async function startClient() {
  const config = vscode.workspace.getConfiguration('betterpython');
  if (!config.get('server.enable', true)) {
    return;
  }
  const bp = serverPath();
  const problem = checkServer(bp);
  if (problem) {
    output.appendLine(`BetterPython: ${problem}. Highlighting still works; diagnostics, hover and completion need 'bp lsp'.`);
    vscode.window
      .showWarningMessage(
        `BetterPython: ${problem}. Syntax highlighting still works. Set "betterpython.server.path" to a bp with the 'lsp' command.`,
        'Open Settings',
      )
      .then((choice) => {
        if (choice === 'Open Settings') {
          vscode.commands.executeCommand('workbench.action.openSettings', 'betterpython.server');
        }
      });
    return;
  }
  // Loaded only when the server can run.
  const { LanguageClient } = require('vscode-languageclient/node');
  // No `transport`: the client then talks over the process's stdin/stdout without
  // adding a `--stdio` argument (`bp lsp` takes none).
  const serverOptions = {
    run: { command: bp, args: ['lsp'] },
    debug: { command: bp, args: ['lsp'] },
  };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'betterpython' },
      { scheme: 'untitled', language: 'betterpython' },
    ],
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.bp'),
    },
    outputChannel: output,
  };
  client = new LanguageClient('betterpython', 'BetterPython Language Server', serverOptions, clientOptions);
  try {
    await client.start();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    output.appendLine(`BetterPython: 'bp lsp' failed to start: ${msg}`);
    vscode.window.showWarningMessage(`BetterPython: 'bp lsp' failed to start (${msg}). Syntax highlighting still works.`);
    client = undefined;
  }
}

async function stopClient() {
  if (client) {
    const c = client;
    client = undefined;
    try {
      await c.stop();
    } catch (_) {
      // already stopped
    }
  }
}

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  output = vscode.window.createOutputChannel('BetterPython');
  context.subscriptions.push(output);
  context.subscriptions.push(
    vscode.commands.registerCommand('betterpython.restartServer', async () => {
      await stopClient();
      await startClient();
    }),
  );
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration('betterpython.server')) {
        await stopClient();
        await startClient();
      }
    }),
  );
  await startClient();
}

function deactivate() {
  return stopClient();
}

module.exports = { activate, deactivate };
