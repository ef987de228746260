/** Projects the demo's dist depends on, in build order, relative to the workspace root. */
export declare const demoProjects: readonly string[]
/** The first project whose dist is missing or older than one of its inputs, if any. */
export declare function staleProject(root: string, projects?: readonly string[]): string | undefined
/** Runs a build command quietly (output only on failure); resolves with its exit code. */
export declare function buildQuietly(
  command: string,
  args: readonly string[],
  options?: { cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<number>
/** SHA-256 of every input file of the projects. */
export declare function inputsHash(root: string, projects?: readonly string[]): string
/** The first project that needs a build (mtimes, then the recorded inputs' hash), if any. */
export declare function needsBuild(
  root: string,
  stampFile: string,
  projects?: readonly string[],
): string | undefined
/** Records the inputs' hash after a successful build. */
export declare function recordBuild(
  root: string,
  stampFile: string,
  projects?: readonly string[],
): void
