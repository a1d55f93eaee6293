import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { cmcSvg, niceTicks, rocSvg, scoreHistogramSvg, svgToPng } from '../../src/eval/plots.js';
import { rocCurve } from '../../src/eval/roc.js';

/** Deterministic scores: genuine around 0.6, impostor around 0. */
function scores(n: number, centre: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    let sum = 0;
    for (let k = 0; k < 4; k++) {
      s = (s * 1664525 + 1013904223) >>> 0;
      sum += s / 2 ** 32;
    }
    return centre + (sum - 2) * 0.3;
  });
}

describe('plots', () => {
  const genuine = scores(2000, 0.6, 1);
  const impostor = scores(200_000, 0, 2);
  const roc = rocCurve(genuine, impostor);

  it('draws ROC on a log FAR axis with decade ticks down to the smallest FAR reached', async () => {
    const svg = rocSvg([{ label: 'model <A&B>', roc }], 'ROC test');
    for (const t of ['10⁻⁶', '10⁻⁵', '10⁻⁴', '10⁻³', '10⁻²', '10⁻¹', '>1<']) expect(svg).toContain(t);
    expect(svg).not.toContain('10⁻⁷');
    expect(svg).toContain('False accept rate (FAR, log scale)');
    expect(svg).toContain('True accept rate (TAR)');
    expect(svg).toContain('model &lt;A&amp;B&gt;');
    // Over 100k ROC points thin to a drawing of a few thousand.
    expect(roc.fpr.length).toBeGreaterThan(100_000);
    expect(svg.length).toBeLessThan(150_000);
    const png = await svgToPng(svg);
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 720, 480]);
  });

  it('draws score histograms as densities with threshold markers', () => {
    const svg = scoreHistogramSvg(genuine, impostor, {
      thresholds: [{ label: 'EER threshold 0.300', x: 0.3 }],
    });
    expect(svg).toContain('genuine (2000)');
    expect(svg).toContain('impostor (200000)');
    expect(svg).toContain('EER threshold 0.300');
    expect(svg).toContain('stroke-dasharray');
    expect(svg.match(/<polygon /g)).toHaveLength(2);
    expect(svg).toContain('Cosine similarity');
  });

  it('draws CMC curves with markers when short', () => {
    const svg = cmcSvg([{ label: 'm', cmc: [0.8, 0.9, 0.95, 1] }]);
    expect(svg).toContain('Identification rate');
    expect(svg).toContain('Rank');
    expect(svg.match(/<circle /g)).toHaveLength(4);
    // The lowest value is 0.8, so the axis starts at 80%, not lower.
    expect(svg).toContain('>80%<');
    expect(svg).not.toContain('>60%<');
  });

  it('picks round tick steps', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-0.43, 0.8, 7)).toEqual([-0.4, -0.2, 0, 0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(1, 20, 8)).toEqual([5, 10, 15, 20]);
  });
});
