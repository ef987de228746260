/** Version of this package, written into every profile's resource (kept equal to package.json by a test). */
export const VERSION = '0.1.0'
