/**
 * Compile-time checks between types (no runtime code). `Exactly<A, B>` is true only when A and B are the same type,
 * property by property and modifier by modifier (optional, readonly), at every depth; `Assert<…>` makes `tsc` fail
 * where it is not, so two descriptions of one shape (e.g. a class-validator schema and the plain type it produces)
 * cannot drift apart unnoticed.
 */
export type Exactly<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export type Assert<T extends true> = T;
