// The colours a page derives from an app's brand colour, so that whatever an admin picks the page meets
// WCAG 2.2 AA: text on a brand-coloured button at least 4.5:1 (white or black, whichever is
// higher: one of them always reaches 4.58:1), and links and the focus ring in the brand's hue, darkened
// (light scheme) or lightened (dark scheme) until they reach 4.5:1 on the page's surface (which also
// covers the 3:1 a focus indicator needs). Served as CSS variables by /branding/<app>.css.

/** Keymaster's own brand colour, for pages and emails of an app that set none. */
export const DEFAULT_BRAND_COLOR = '#2f5bea';

export const LIGHT_SURFACE = '#ffffff';
export const DARK_SURFACE = '#1a1d24';
const BLACK = '#000000';

type Rgb = [number, number, number];

const parse = (hex: string): Rgb => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as Rgb;
const format = (rgb: Rgb) => `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;

/** WCAG 2.x relative luminance of an sRGB colour. */
export function luminance(hex: string): number {
  const [r, g, b] = parse(hex).map((c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as Rgb;
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio, 1 to 21. */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** Mixes `hex` toward `target` in small steps until it reaches `ratio` against `surface`. */
function shiftUntil(hex: string, target: string, surface: string, ratio: number): string {
  const from = parse(hex);
  const to = parse(target);
  for (let step = 0; step <= 40; step++) {
    const t = step / 40;
    const c = format(from.map((v, i) => v + (to[i]! - v) * t) as Rgb);
    if (contrast(c, surface) >= ratio) return c;
  }
  return target;
}

export interface BrandPalette {
  /** The button background: the admin's colour as chosen. */
  brand: string;
  /** Text and icons on the brand colour. */
  onBrand: string;
  /** Links and focus ring on the light surface. */
  ink: string;
  /** Links and focus ring on the dark surface (prefers-color-scheme: dark). */
  inkDark: string;
}

export function brandPalette(brand: string): BrandPalette {
  const onBrand = contrast('#ffffff', brand) >= contrast(BLACK, brand) ? '#ffffff' : BLACK;
  return {
    brand,
    onBrand,
    ink: shiftUntil(brand, '#000000', LIGHT_SURFACE, 4.5),
    inkDark: shiftUntil(brand, '#ffffff', DARK_SURFACE, 4.5),
  };
}

/** The CSS custom properties of a palette (the colour was validated as #rrggbb when the app was saved). */
export function paletteCss(brand: string): string {
  const p = brandPalette(brand);
  return `:root { --brand: ${p.brand}; --on-brand: ${p.onBrand}; --brand-ink: ${p.ink}; --brand-ink-dark: ${p.inkDark}; }\n`;
}
