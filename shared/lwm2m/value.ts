/**
 * Resource data types of the LwM2M Core specification (Appendix C). Integer-like values are
 * bigint so that 64-bit integers round-trip exactly through every format.
 */
export type ResourceType =
  | 'string'
  | 'integer'
  | 'unsigned'
  | 'float'
  | 'boolean'
  | 'opaque'
  | 'time'
  | 'objlnk'
  | 'corelnk'
  | 'none';

/** The types a value can carry; 'none' is for executable resources, which hold no value. */
export type ValueType = Exclude<ResourceType, 'none'>;

export interface ObjectLink {
  readonly objectId: number;
  readonly instanceId: number;
}

export type ResourceValue =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'integer'; readonly value: bigint }
  | { readonly type: 'unsigned'; readonly value: bigint }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'opaque'; readonly value: Uint8Array }
  | { readonly type: 'time'; readonly value: bigint }
  | { readonly type: 'objlnk'; readonly value: ObjectLink }
  | { readonly type: 'corelnk'; readonly value: string };

export const INTEGER_MIN = -(2n ** 63n);
export const INTEGER_MAX = 2n ** 63n - 1n;
export const UNSIGNED_MAX = 2n ** 64n - 1n;

export const stringValue = (value: string): ResourceValue => ({ type: 'string', value });
export const integerValue = (value: number | bigint): ResourceValue => ({ type: 'integer', value: BigInt(value) });
export const unsignedValue = (value: number | bigint): ResourceValue => ({ type: 'unsigned', value: BigInt(value) });
export const floatValue = (value: number): ResourceValue => ({ type: 'float', value });
export const booleanValue = (value: boolean): ResourceValue => ({ type: 'boolean', value });
export const opaqueValue = (value: Uint8Array): ResourceValue => ({ type: 'opaque', value });
export const timeValue = (value: number | bigint): ResourceValue => ({ type: 'time', value: BigInt(value) });
export const objlnkValue = (objectId: number, instanceId: number): ResourceValue => ({
  type: 'objlnk',
  value: { objectId, instanceId },
});
export const corelnkValue = (value: string): ResourceValue => ({ type: 'corelnk', value });
