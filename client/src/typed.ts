/**
 * Typed URI contracts. An app declares one map and every call, register, publish and subscribe is
 * checked against it at compile time:
 *
 * ```ts
 * interface Api {
 *   procedures: { 'com.example.add': { args: [number, number]; result: number } };
 *   topics: { 'chat.message': { args: [string]; kwargs: { from: string } } };
 * }
 * const session = await connect<Api>({ url, realm });
 * const sum = await session.call('com.example.add', [2, 3]); // number
 * ```
 *
 * Fields of an entry (all optional): `args` (a tuple), `kwargs` (an object type), `result` (the
 * callee's return value, carried as the single positional result), `progress` (the arguments of
 * each progressive result). Procedures and topics are separate maps: one URI may name both, and an
 * entry's shape alone could not tell which it is.
 */
import type { Dict } from '@switchboard/schemas/core';
import type { MetaProcedures, MetaTopics } from './meta-api.js';

/** What a contract must look like (no index signatures, so an `interface` fits too). */
export interface ApiContract {
  procedures?: object;
  topics?: object;
}

/** The contract of a session without a type argument: every URI, payloads of unknown type. */
export interface Untyped {
  procedures: Record<string, { args: unknown[]; kwargs: Dict; result: unknown; progress: unknown[] }>;
  topics: Record<string, { args: unknown[]; kwargs: Dict }>;
}

type ProceduresOf<Api> = Api extends { procedures: infer P } ? P : Record<never, never>;
type TopicsOf<Api> = Api extends { topics: infer T } ? T : Record<never, never>;

/** The procedure URIs a contract declares. */
export type ProcedureUri<Api> = Extract<keyof ProceduresOf<Api>, string>;
/** The topic URIs a contract declares. */
export type TopicUri<Api> = Extract<keyof TopicsOf<Api>, string>;

/**
 * What a session may call: its contract's procedures, and the router's own (meta-api.ts) for every
 * URI the contract does not declare itself. An untyped session declares every URI, so it stays untyped.
 */
type CallableProcedures<Api> = ProceduresOf<Api> & Omit<MetaProcedures, keyof ProceduresOf<Api>>;
/** What a session may subscribe to: its contract's topics and the router's meta events. */
type SubscribableTopics<Api> = TopicsOf<Api> & Omit<MetaTopics, keyof TopicsOf<Api>>;

/** The procedure URIs a session may call (its contract's and the router's). */
export type CallableUri<Api> = Extract<keyof CallableProcedures<Api>, string>;
/** The topic URIs a session may subscribe to (its contract's and the router's meta events). */
export type SubscribableUri<Api> = Extract<keyof SubscribableTopics<Api>, string>;
/** The entry of a procedure a session may call. */
export type CallableOf<Api, P extends string> = P extends keyof CallableProcedures<Api> ? CallableProcedures<Api>[P] : never;
/** The entry of a topic a session may subscribe to. */
export type SubscribableOf<Api, T extends string> = T extends keyof SubscribableTopics<Api> ? SubscribableTopics<Api>[T] : never;

/** The contract entry of one procedure / topic. */
export type ProcedureOf<Api, P extends string> = P extends keyof ProceduresOf<Api> ? ProceduresOf<Api>[P] : never;
export type TopicOf<Api, T extends string> = T extends keyof TopicsOf<Api> ? TopicsOf<Api>[T] : never;

/** Positional arguments of an entry (`[]` when it declares none). */
export type ArgsOf<E> = E extends { args: infer A extends unknown[] } ? A : [];
/** Keyword arguments of an entry (none allowed when it declares none). */
export type KwargsOf<E> = E extends { kwargs: infer K extends object } ? K : Record<string, never>;
/** What a call returns (`undefined` when the entry declares no result). */
export type ResultOf<E> = E extends { result: infer R } ? R : undefined;
/** The arguments of each progressive result (none when the entry declares no `progress`). */
export type ProgressOf<E> = E extends { progress: infer A extends unknown[] } ? A : [];

/**
 * The `args, kwargs` parameters for an entry: required when the entry has required elements,
 * optional otherwise, so `call('com.example.ping')` type-checks and `call('com.example.add')` does not.
 */
export type Payload<E> =
  Record<never, never> extends KwargsOf<E>
    ? [] extends ArgsOf<E>
      ? [args?: ArgsOf<E>, kwargs?: KwargsOf<E>]
      : [args: ArgsOf<E>, kwargs?: KwargsOf<E>]
    : [args: ArgsOf<E>, kwargs: KwargsOf<E>];

/** `Payload<E>` followed by an options object. */
export type PayloadWith<E, O> =
  Record<never, never> extends KwargsOf<E>
    ? [] extends ArgsOf<E>
      ? [args?: ArgsOf<E>, kwargs?: KwargsOf<E>, options?: O]
      : [args: ArgsOf<E>, kwargs?: KwargsOf<E>, options?: O]
    : [args: ArgsOf<E>, kwargs: KwargsOf<E>, options?: O];
