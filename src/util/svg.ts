/** Hand-written SVG figures: escaping text for them and rendering them to PNG. */
import sharp from 'sharp';

/** Escape text for SVG/XML content and attribute values (`&`, `<`, `>`, `"`). */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Render an SVG document to PNG bytes (sharp / librsvg). */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}
