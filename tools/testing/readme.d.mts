export interface ReadmeExample {
  /** 1-based line of the opening fence in README.md */
  line: number
  code: string
}
export declare function extractExamples(readmePath: string): ReadmeExample[]
export declare function runExample(
  example: ReadmeExample,
  packageDir: string,
  options?: { timeoutMs?: number; env?: Record<string, string> },
): Promise<{ stdout: string; stderr: string }>
