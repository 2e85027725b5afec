/**
 * The memory engine against the store conformance suite (history-conformance.ts): the same
 * semantics as the durable engines, without reopening (a memory store does not survive one).
 */
import { MemoryStore } from '../../src/history/memory.js';
import { describeStoreConformance } from './history-conformance.js';

describeStoreConformance('memory', async (ctx) => new MemoryStore({ now: ctx.now }), { persistsRetained: false });
