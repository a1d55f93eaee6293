/** The op table: every TF op the importer converts, by name, grouped by kind in the sibling files. */
import type { TfOpConverter } from './context.js';
import { CONV_OPS } from './conv.js';
import { MATH_OPS } from './math.js';
import { REDUCE_OPS } from './reduce.js';
import { SHAPE_OPS } from './shape.js';

export const TF_OPS: Readonly<Record<string, TfOpConverter>> = {
  ...CONV_OPS,
  ...MATH_OPS,
  ...REDUCE_OPS,
  ...SHAPE_OPS,
};

export { OpContext, TfImportError, type ConstTable, type TfOpConverter } from './context.js';
