/**
 * Sparkplug B payload codec (docs/sparkplug.md). protobufjs does the protobuf work; the schema below is the Eclipse
 * Sparkplug B 3.0 `sparkplug_b.proto` message layout (same package, field numbers and wire types), reduced to what
 * hazwatch reads: the nested messages it never interprets (MetaData, DataSet, Template, extensions) are declared as
 * `bytes`, which is wire-compatible for length-delimited fields, so their presence is seen (and the metric rejected as
 * unsupported) without decoding them.
 */
import * as protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto2";
package org.eclipse.tahu.protobuf;
message Payload {
  message PropertyValue {
    optional uint32 type = 1;
    optional bool is_null = 2;
    oneof value {
      uint32 int_value = 3;
      uint64 long_value = 4;
      float float_value = 5;
      double double_value = 6;
      bool boolean_value = 7;
      string string_value = 8;
      bytes propertyset_value = 9;
      bytes propertysets_value = 10;
      bytes extension_value = 11;
    }
  }
  message PropertySet {
    repeated string keys = 1;
    repeated PropertyValue values = 2;
  }
  message Metric {
    optional string name = 1;
    optional uint64 alias = 2;
    optional uint64 timestamp = 3;
    optional uint32 datatype = 4;
    optional bool is_historical = 5;
    optional bool is_transient = 6;
    optional bool is_null = 7;
    optional bytes metadata = 8;
    optional PropertySet properties = 9;
    oneof value {
      uint32 int_value = 10;
      uint64 long_value = 11;
      float float_value = 12;
      double double_value = 13;
      bool boolean_value = 14;
      string string_value = 15;
      bytes bytes_value = 16;
      bytes dataset_value = 17;
      bytes template_value = 18;
      bytes extension_value = 19;
    }
  }
  optional uint64 timestamp = 1;
  repeated Metric metrics = 2;
  optional uint64 seq = 3;
  optional string uuid = 4;
  optional bytes body = 5;
}
`;

/** Sparkplug B data types (specification §6.4.16). */
export const DataType = {
  Unknown: 0,
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
  DateTime: 13,
  Text: 14,
  UUID: 15,
  DataSet: 16,
  Bytes: 17,
  File: 18,
  Template: 19,
  PropertySet: 20,
  PropertySetList: 21,
} as const;

const DATATYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(DataType).map(([k, v]) => [v, k]),
);
export const dataTypeName = (t: number): string =>
  DATATYPE_NAMES[t] ?? (t >= 22 && t <= 34 ? 'Array' : `type ${t}`);

/** The `long` package protobufjs depends on (present: protobufjs decodes 64-bit fields to it). */
type LongStatic = { fromNumber(v: number, unsigned: boolean): { toUnsigned(): unknown } };

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
const PayloadType = root.lookupType('org.eclipse.tahu.protobuf.Payload');

/** A 64-bit field as protobufjs returns it (a `Long` when the `long` package is present, else a number). */
type U64 = number | { toNumber(): number; high: number; low: number; unsigned: boolean };

export type RawPropertyValue = {
  type?: number;
  is_null?: boolean;
  int_value?: number;
  long_value?: U64;
  float_value?: number;
  double_value?: number;
  boolean_value?: boolean;
  string_value?: string;
};

export type RawMetric = {
  name?: string;
  alias?: U64;
  timestamp?: U64;
  datatype?: number;
  is_historical?: boolean;
  is_transient?: boolean;
  is_null?: boolean;
  properties?: { keys?: string[]; values?: RawPropertyValue[] };
  int_value?: number;
  long_value?: U64;
  float_value?: number;
  double_value?: number;
  boolean_value?: boolean;
  string_value?: string;
  bytes_value?: Uint8Array;
  dataset_value?: Uint8Array;
  template_value?: Uint8Array;
  extension_value?: Uint8Array;
  value?: string;
};

export type RawPayload = {
  timestamp?: U64;
  metrics?: RawMetric[];
  seq?: U64;
  uuid?: string;
  body?: Uint8Array;
};

export const u64 = (v: U64 | undefined): number | undefined =>
  v === undefined || v === null ? undefined : typeof v === 'number' ? v : v.toNumber();

const hasOwn = Object.prototype.hasOwnProperty;
/**
 * A field as sent, or undefined when absent: protobufjs puts proto2 defaults on the message prototype (an absent
 * `name` reads as '', an absent `alias` as 0), so presence is an own property.
 */
export function opt<T extends object, K extends keyof T>(o: T, k: K): T[K] | undefined {
  return hasOwn.call(o, k) ? o[k] : undefined;
}

/** Decodes a Sparkplug B payload; throws (with protobufjs's message) on bytes that are not one. */
export function decodePayload(bytes: Uint8Array): RawPayload {
  return PayloadType.decode(bytes) as unknown as RawPayload;
}

/** A metric to encode (simulators, tests). `value` is written to the field its datatype calls for. */
export type MetricInput = {
  name?: string;
  alias?: number;
  timestamp?: number;
  datatype: number;
  value?: number | boolean | string | null;
  isHistorical?: boolean;
  quality?: number;
  /** Raw field override, for tests of unsupported types: e.g. `{ dataset_value: Uint8Array }`. */
  raw?: Record<string, unknown>;
};

function metricObject(m: MetricInput): Record<string, unknown> {
  const o: Record<string, unknown> = { datatype: m.datatype };
  if (m.name !== undefined) o.name = m.name;
  if (m.alias !== undefined) o.alias = m.alias;
  if (m.timestamp !== undefined) o.timestamp = m.timestamp;
  if (m.isHistorical) o.is_historical = true;
  if (m.quality !== undefined)
    o.properties = { keys: ['Quality'], values: [{ type: DataType.Int32, int_value: m.quality }] };
  const v = m.value;
  if (v === null) o.is_null = true;
  else if (v !== undefined) {
    switch (m.datatype) {
      case DataType.Int8:
      case DataType.Int16:
      case DataType.Int32:
        o.int_value = (v as number) >>> 0;
        break;
      case DataType.UInt8:
      case DataType.UInt16:
      case DataType.UInt32:
        o.int_value = v;
        break;
      case DataType.Int64:
        // two's complement in the uint64 field
        o.long_value = (protobuf.util.Long as unknown as LongStatic)
          .fromNumber(v as number, false)
          .toUnsigned();
        break;
      case DataType.UInt64:
      case DataType.DateTime:
        o.long_value = v;
        break;
      case DataType.Float:
        o.float_value = v;
        break;
      case DataType.Double:
        o.double_value = v;
        break;
      case DataType.Boolean:
        o.boolean_value = v;
        break;
      case DataType.String:
      case DataType.Text:
      case DataType.UUID:
        o.string_value = v;
        break;
      default:
        throw new RangeError(`cannot encode a value of datatype ${dataTypeName(m.datatype)}`);
    }
  }
  return Object.assign(o, m.raw ?? {});
}

/** Encodes a Sparkplug B payload (simulators, tests, bench). */
export function encodePayload(p: {
  timestamp?: number;
  seq?: number;
  metrics: readonly MetricInput[];
}): Buffer {
  const obj: Record<string, unknown> = { metrics: p.metrics.map(metricObject) };
  if (p.timestamp !== undefined) obj.timestamp = p.timestamp;
  if (p.seq !== undefined) obj.seq = p.seq;
  return Buffer.from(PayloadType.encode(PayloadType.fromObject(obj)).finish());
}
