/**
 * requireSystem (test/support/system.ts): a test that needs a system package fails at once naming
 * the package and how to install it, rather than with an obscure spawn error.
 */
import { afterEach, expect, it } from 'vitest';
import { requireSystem } from './support/system.js';

const saved = process.env['CHROMIUM_PATH'];
afterEach(() => {
  if (saved === undefined) delete process.env['CHROMIUM_PATH'];
  else process.env['CHROMIUM_PATH'] = saved;
});

it('names a missing binary, where it looked and the apt-get line that installs it', () => {
  process.env['CHROMIUM_PATH'] = '/nonexistent/chromium';
  expect(() => requireSystem('chromium')).toThrow(
    'this test needs chromium, not found at /nonexistent/chromium: apt-get install -y chromium (.ci/run installs it, or set CHROMIUM_PATH)',
  );
});

it('finds an installed one and checks a Python package by importing it', () => {
  // python3 itself is on every machine that runs the suite (the interop tests need it).
  expect(requireSystem('python3')).toBe('/usr/bin/python3');
  expect(requireSystem('python3-autobahn')).toBe('/usr/bin/python3');
  expect(requireSystem('openssl')).toMatch(/\/openssl$/);
});
