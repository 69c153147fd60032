/** Nominal typing for plain numbers: `Brand<number, 'TypeId'>` is not assignable from another brand. */
declare const brand: unique symbol;
export type Brand<T, Name extends string> = T & { readonly [brand]: Name };
