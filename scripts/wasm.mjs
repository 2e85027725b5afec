#!/usr/bin/env node
// Compiles the project's WebAssembly sources (wabt) and writes each module's bytes, base64, into
// the TypeScript that embeds them; `--check` only says whether they are up to date (exit 1 if not).
//   schemas/src/codecs/json-special.wat → SPECIAL_WASM in schemas/src/codecs/json-special.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MODULES = [{ wat: 'schemas/src/codecs/json-special.wat', ts: 'schemas/src/codecs/json-special.ts', name: 'SPECIAL_WASM' }];

export async function compileWat(file) {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat(file, readFileSync(join(root, file), 'utf8'), { simd: true });
  try {
    parsed.validate();
    return Buffer.from(parsed.toBinary({}).buffer).toString('base64');
  } finally {
    parsed.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const m of MODULES) {
    const base64 = await compileWat(m.wat);
    const path = join(root, m.ts);
    const ts = readFileSync(path, 'utf8');
    const pattern = new RegExp(`(export const ${m.name} =\\s*')([A-Za-z0-9+/=]*)(';)`);
    const found = pattern.exec(ts);
    if (found === null) throw new Error(`${m.ts}: no ${m.name} = '…'; to write`);
    if (found[2] === base64) continue;
    stale++;
    if (check) console.error(`${m.ts}: ${m.name} is not ${m.wat} compiled: run node scripts/wasm.mjs`);
    else {
      writeFileSync(path, ts.replace(pattern, `$1${base64}$3`));
      console.log(`${m.ts}: ${m.name} written from ${m.wat}`);
    }
  }
  process.exitCode = check && stale > 0 ? 1 : 0;
}
