export interface BundleSize {
  minified: number;
  gzip: number;
}
export const BUNDLES: readonly (readonly [name: string, what: string])[];
export function bundleSizes(dir: string): Record<string, BundleSize>;
export function renderBundleSizes(sizes: Record<string, BundleSize>): string;
export function renderHealth(body: string): string;
export function figuresIn(text: string): { name: string; content: string }[];
export function withFigures(text: string, figures: Record<string, string>): string;
