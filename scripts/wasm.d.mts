/** The base64 of the WebAssembly module compiled (wabt) from the .wat at this repository path. */
export function compileWat(file: string): Promise<string>;
