/** Placeholder: replaced by the package implementation. */
export const PACKAGE_NAME = '@bookgen/parallel'
