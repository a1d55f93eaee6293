/**
 * A separate process for the reliability tests: opens a gallery and enrols `subjects` synthetic people of `faces`
 * faces each (one addFaces transaction per person), printing `begin i` / `done i` around each; then
 * `shared` people get a face each from every process (names shared across processes, created concurrently).
 * Usage: node --import tsx enrol-child.ts DB PREFIX SUBJECTS FACES SEED
 */
import { openGallery } from '../../src/gallery/open.js';
import { GalleryError } from '../../src/gallery/errors.js';
import { unitVector } from './vectors.js';

const [db, prefix, subjects, faces, seed] = process.argv.slice(2);
const DIM = 128;

try {
  const store = await openGallery(db);
  console.log('open');
  for (let i = 0; i < Number(subjects); i++) {
    const batch = Array.from({ length: Number(faces) }, (_, j) => ({
      embedding: unitVector(DIM, Number(seed) * 1_000_000 + i * 1000 + j),
      recognizer: 'test:child',
    }));
    console.log(`begin ${i}`);
    await store.addFaces(`${prefix}${i}`, batch, { create: {} });
    console.log(`done ${i}`);
  }
  for (let i = 0; i < 5; i++) {
    await store.addFaces(
      `shared${i}`,
      [{ embedding: unitVector(DIM, Number(seed) * 7919 + i), recognizer: 'test:child' }],
      {
        create: {},
      },
    );
  }
  await store.close();
  console.log('closed');
} catch (err) {
  console.error(err instanceof GalleryError ? `${err.code}: ${err.message}` : err);
  process.exit(2);
}
