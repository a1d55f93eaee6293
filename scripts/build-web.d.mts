/** Build the web page's static assets (index.html, page.css, page.js, ort/) into `out`, emptied first. */
export function buildWebPage(out: string): Promise<void>;
