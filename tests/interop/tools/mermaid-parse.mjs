// Parses each Mermaid file named on the command line with the real `mermaid` package
// (pinned in package.json), under jsdom: mermaid's parser needs a DOM (DOMPurify).
// Prints one JSON line per file, {"file", "ok", "diagramType"} or {"file", "ok": false,
// "error"}, then {"mermaid": VERSION}; exits 1 when any file fails to parse.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>", { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
for (const name of ["Element", "HTMLElement", "SVGElement", "Node", "DOMParser", "XMLSerializer"]) {
  if (!(name in globalThis)) globalThis[name] = dom.window[name];
}
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let failed = false;
for (const file of process.argv.slice(2)) {
  try {
    const result = await mermaid.parse(readFileSync(file, "utf8"));
    console.log(JSON.stringify({ file, ok: true, diagramType: result.diagramType }));
  } catch (e) {
    failed = true;
    console.log(JSON.stringify({ file, ok: false, error: String(e?.message ?? e) }));
  }
}
const version = createRequire(import.meta.url)("mermaid/package.json").version;
console.log(JSON.stringify({ mermaid: version }));
process.exitCode = failed ? 1 : 0;
