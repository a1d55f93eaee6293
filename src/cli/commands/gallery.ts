/**
 * `arcface gallery enrol|list|show|rename|remove|export|import|search` and `arcface identify`: the gallery from the
 * command line. Results go to stdout (text, or JSON with --json); messages and progress to stderr.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { integer, numberIn } from '../parse.js';
import { createFacePipeline, type FacePipeline } from '../../face/pipeline.js';
import { loadRecognizer, parseDetectorSpec, parseRecognizerSpec } from '../../face/zoo.js';
import { readEmbeddings } from '../../eval/embeddings-io.js';
import { enrolImages, identifyEmbedding, identifyImage, recognizerId } from '../../gallery/enrol.js';
import { GalleryError } from '../../gallery/errors.js';
import { parseLines, recordToLine } from '../../gallery/jsonl.js';
import { defaultGalleryDir, openGallery } from '../../gallery/open.js';
import type { GalleryStore, JsonObject, Subject, SubjectRef } from '../../gallery/types.js';
import { progress } from '../../util/progress.js';

interface DbFlags {
  db?: string;
  json?: boolean;
}

interface ModelFlags {
  detector?: string;
  recognizer?: string;
  threads?: number;
}

const DB_HELP =
  'gallery: a directory (embedded PGlite, one process at a time) or postgres://… (a PostgreSQL server with ' +
  `pgvector) (default: ${defaultGalleryDir()})`;

/** `#12` is subject id 12; anything else is a name. */
function subjectRef(v: string): SubjectRef {
  return /^#\d+$/.test(v) ? Number(v.slice(1)) : v;
}

function metadataJson(v: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw new InvalidArgumentError('expected a JSON object, e.g. \'{"team":"blue"}\'');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError('expected a JSON object, e.g. \'{"team":"blue"}\'');
  }
  return parsed as JsonObject;
}

function withDb(cmd: Command): Command {
  return cmd.option('--db <path|url>', DB_HELP).option('--json', 'print JSON instead of text');
}

function withModels(cmd: Command): Command {
  return cmd
    .option('--detector <spec>', 'face detector: blazeface:back|front, scrfd:PATH or yunet:PATH')
    .option(
      '--recognizer <spec>',
      'recogniser: faceapi:resnet34 (default), human:…, or onnx:PATH; must be the one the gallery was enrolled with',
    )
    .option('--threads <n>', 'ONNX Runtime threads per model (default: all cores)', integer(1));
}

/** The ranking options `identify` and `gallery search` share. */
function withSearch(cmd: Command): Command {
  return cmd
    .option('--top <k>', 'candidates to show', integer(1), 5)
    .option(
      '--threshold <t>',
      'accept at this cosine similarity (default: calibrated)',
      numberIn(-1, 1, '[]'),
    )
    .option('--exact', 'compare with every face even where the HNSW index exists');
}

async function withStore<T>(flags: DbFlags, work: (store: GalleryStore) => Promise<T>): Promise<T> {
  const store = await openGallery(flags.db);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

async function withPipeline<T>(flags: ModelFlags, work: (p: FacePipeline) => Promise<T>): Promise<T> {
  const pipeline = await createFacePipeline({
    detector: flags.detector ? parseDetectorSpec(flags.detector) : undefined,
    recognizer: flags.recognizer ? parseRecognizerSpec(flags.recognizer) : undefined,
    threads: flags.threads,
    // The gallery never stores or searches a whole-image "face": no face is reported instead.
    fallback: false,
  });
  try {
    return await work(pipeline);
  } finally {
    await pipeline.dispose();
  }
}

function subjectLine(s: Subject): string {
  const meta = Object.keys(s.metadata).length > 0 ? `  ${JSON.stringify(s.metadata)}` : '';
  return `#${s.id}\t${s.name}\t${s.faceCount} face${s.faceCount === 1 ? '' : 's'}${meta}`;
}

function print(flags: DbFlags, json: unknown, text: string): void {
  console.log(flags.json ? JSON.stringify(json, null, 2) : text);
}

/**
 * The embeddings of `--embedding FILE`: a JSON array of numbers, or an embeddings file (JSON lines or AFEMB1
 * binary, src/eval/embeddings-io.ts), one search per row. Rows are L2-normalised here: cosine ranking does not
 * depend on length, and other tools write unnormalised vectors.
 */
async function readQueryEmbeddings(file: string): Promise<{ label: string; embedding: Float32Array }[]> {
  const text = await readFile(file).catch((err: unknown) => {
    throw new GalleryError('bad-input', `cannot read --embedding ${file}: ${String(err)}`);
  });
  let rows: { label: string; embedding: Float32Array }[];
  if (text.subarray(0, 1).toString() === '[') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.toString('utf8'));
    } catch (err) {
      throw new GalleryError('bad-input', `--embedding ${file} is not valid JSON: ${String(err)}`);
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || parsed.some((x) => typeof x !== 'number')) {
      throw new GalleryError('bad-input', `--embedding ${file}: expected a JSON array of numbers`);
    }
    rows = [{ label: file, embedding: Float32Array.from(parsed as number[]) }];
  } else {
    let set;
    try {
      set = await readEmbeddings(file);
    } catch (err) {
      throw new GalleryError(
        'bad-input',
        `--embedding ${file}: not a JSON array nor an embeddings file: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    rows = set.meta.map((m, i) => ({
      label: m.path ?? m.label ?? `${file} row ${i + 1}`,
      embedding: set.vectors.slice(i * set.dim, (i + 1) * set.dim),
    }));
    if (rows.length === 0) throw new GalleryError('bad-input', `--embedding ${file} holds no embeddings`);
  }
  for (const r of rows) {
    let n = 0;
    for (const x of r.embedding) n += x * x;
    if (!Number.isFinite(n) || n === 0) {
      throw new GalleryError('bad-embedding', `the embedding ${r.label} is zero or not finite`);
    }
    const s = 1 / Math.sqrt(n);
    for (let i = 0; i < r.embedding.length; i++) r.embedding[i] *= s;
  }
  return rows;
}

/** Register `arcface gallery …` and `arcface identify` on the program. */
export function registerGalleryCommands(program: Command): void {
  const gallery = program
    .command('gallery')
    .description('enrol people and manage the gallery that `arcface identify` searches');

  withModels(
    withDb(
      gallery
        .command('enrol')
        .alias('enroll')
        .description(
          'enrol images as faces of a person (created if new), all in one transaction. Exit 0 all enrolled ' +
            '(or already), 1 some images not enrolled (no face, low quality, duplicate, unreadable), 2 error',
        )
        .argument('<name>', "the person's name")
        .argument('<images...>', 'image files (the largest face of each is enrolled)')
        .option('--meta <json>', 'metadata for a new person, a JSON object', metadataJson)
        .option(
          '--min-quality <q>',
          'lowest face quality score enrolled, in [0, 1]; an image below it is skipped, naming the measure that failed',
          numberIn(0, 1, '[]'),
        )
        .option('--quiet', 'no progress bar'),
    ),
  ).action(
    async (
      name: string,
      images: string[],
      flags: DbFlags & ModelFlags & { meta?: JsonObject; quiet?: boolean; minQuality?: number },
    ) => {
      await withStore(flags, (store) =>
        withPipeline(flags, async (pipeline) => {
          const bar = progress('enrol', images.length, { quiet: flags.quiet || flags.json });
          const result = await enrolImages(store, pipeline, name, images, {
            metadata: flags.meta,
            minQuality: flags.minQuality,
            onProgress: (d) => bar.update(d),
          });
          bar.stop();
          const bad = result.outcomes.filter(
            (o) => o.status !== 'enrolled' && o.status !== 'already-enrolled',
          );
          for (const o of result.outcomes) {
            if (o.status !== 'enrolled' || o.message !== 'enrolled')
              console.error(`${o.image}: ${o.message}`);
          }
          const enrolled = result.outcomes.filter((o) => o.status === 'enrolled').length;
          print(
            flags,
            result,
            result.subject
              ? `enrolled ${enrolled} of ${images.length} image(s) for '${name}': ${subjectLine(result.subject)}`
              : `nothing enrolled for '${name}'`,
          );
          if (bad.length > 0) process.exitCode = 1;
        }),
      );
    },
  );

  withDb(gallery.command('list').description('list the people in the gallery')).action(
    async (flags: DbFlags) => {
      await withStore(flags, async (store) => {
        const subjects = await store.listSubjects();
        const recognizers = await store.recognizers();
        print(
          flags,
          { location: store.location, backend: store.backend, recognizers, subjects },
          [
            `${store.location} (${store.backend}): ${subjects.length} people`,
            ...recognizers.map(
              (r) => `faces of ${r.id} (${r.dim}-d): ${r.faceCount}${r.indexed ? ', HNSW index' : ''}`,
            ),
            ...subjects.map(subjectLine),
          ].join('\n'),
        );
      });
    },
  );

  withDb(
    gallery.command('show').description("a person's details and faces").argument('<name>', 'name, or #id'),
  ).action(async (name: string, flags: DbFlags) => {
    await withStore(flags, async (store) => {
      const s = await store.getSubject(subjectRef(name));
      print(
        flags,
        s,
        [
          subjectLine(s),
          `created ${s.createdAt.toISOString()}`,
          ...s.faces.map(
            (f) =>
              `  face #${f.id}\t${f.source ?? '(no source)'}\t${f.recognizer}` +
              (f.detectorScore !== null ? `\tscore ${f.detectorScore.toFixed(3)}` : ''),
          ),
        ].join('\n'),
      );
    });
  });

  withDb(
    gallery
      .command('rename')
      .description('rename a person')
      .argument('<name>', 'name, or #id')
      .argument('<new-name>', 'the new name'),
  ).action(async (name: string, newName: string, flags: DbFlags) => {
    await withStore(flags, async (store) => {
      const s = await store.renameSubject(subjectRef(name), newName);
      print(flags, s, `renamed '${name}' to '${s.name}'`);
    });
  });

  withDb(
    gallery
      .command('remove')
      .description('delete a person with all their faces and embeddings (one transaction)')
      .argument('<name>', 'name, or #id'),
  ).action(async (name: string, flags: DbFlags) => {
    await withStore(flags, async (store) => {
      const r = await store.removeSubject(subjectRef(name));
      print(flags, { removed: name, ...r }, `removed '${name}' and ${r.faces} face(s)`);
    });
  });

  withDb(
    gallery
      .command('export')
      .description('write the gallery as JSON lines (embeddings exact: base64 float32)')
      .option('--out <file>', 'output file (default: stdout)'),
  ).action(async (flags: DbFlags & { out?: string }) => {
    await withStore(flags, async (store) => {
      const tmp = flags.out ? `${flags.out}.tmp-${process.pid}` : undefined;
      const out = tmp ? createWriteStream(tmp) : process.stdout;
      let n = 0;
      try {
        for await (const r of store.exportRecords()) {
          if (!out.write(`${recordToLine(r)}\n`))
            await new Promise<void>((res) => out.once('drain', () => res()));
          if (r.type === 'face') n += 1;
        }
        if (tmp && flags.out) {
          out.end();
          await finished(out);
          await rename(tmp, flags.out);
          console.error(`wrote ${n} face(s) to ${flags.out}`);
        }
      } catch (err) {
        if (tmp) await rm(tmp, { force: true });
        throw err;
      }
    });
  });

  withDb(
    gallery
      .command('import')
      .description('add the people of an export (each with its faces in one transaction; names must be new)')
      .argument('<file>', 'a file written by `arcface gallery export`'),
  ).action(async (file: string, flags: DbFlags) => {
    await withStore(flags, async (store) => {
      const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
      const r = await store.importRecords(parseLines(lines, file));
      print(flags, r, `imported ${r.subjects} people, ${r.faces} faces`);
    });
  });

  withDb(
    withSearch(
      gallery
        .command('search')
        .description(
          'who is this, from an embedding already computed: candidates with similarities and the open-set ' +
            'decision, as `arcface identify`. Exit 0 known (every embedding), 1 unknown (any), 2 error',
        )
        .requiredOption(
          '--embedding <file>',
          'a JSON array of numbers, or an embeddings file (JSON lines or AFEMB1, as `arcface embed` writes; one search per row)',
        )
        .requiredOption(
          '--recognizer <spec>',
          'the recogniser that computed the embedding (faceapi:resnet34, human:…, onnx:PATH): it must be the gallery’s',
        ),
    ),
  ).action(
    async (
      flags: DbFlags & {
        embedding: string;
        recognizer: string;
        top: number;
        threshold?: number;
        exact?: boolean;
      },
    ) => {
      const queries = await readQueryEmbeddings(flags.embedding);
      // Loaded for its id (a file's hash for onnx:), dimension and calibrated threshold; nothing is embedded.
      const rec = await loadRecognizer(parseRecognizerSpec(flags.recognizer));
      let id: string;
      try {
        id = await recognizerId(rec);
      } finally {
        await rec.dispose();
      }
      const threshold = flags.threshold ?? rec.threshold;
      if (threshold === undefined) {
        throw new GalleryError(
          'bad-input',
          `no calibrated threshold is known for ${rec.spec}: give one (--threshold T)`,
        );
      }
      for (const q of queries) {
        if (q.embedding.length !== rec.dim) {
          throw new GalleryError(
            'bad-embedding',
            `the embedding ${q.label} has ${q.embedding.length} dimensions, but ${id} embeddings have ${rec.dim}: ` +
              'was it computed by another model?',
          );
        }
      }
      await withStore(flags, async (store) => {
        const results = [];
        for (const q of queries) {
          const r = await identifyEmbedding(store, q.embedding, id, threshold, {
            k: flags.top,
            mode: flags.exact ? 'exact' : 'auto',
          });
          results.push({ embedding: q.label, ...r });
        }
        const text = results.flatMap((r) => [
          (queries.length > 1 ? `${r.embedding}: ` : '') +
            (r.known
              ? `${r.match?.name} (similarity ${r.match?.similarity.toFixed(4)} >= ${r.threshold})`
              : `unknown (best similarity ${r.candidates[0]?.similarity.toFixed(4) ?? 'none: empty gallery'} < ${r.threshold})`),
          ...r.candidates.map((c, i) => `  ${i + 1}. ${c.name}\t${c.similarity.toFixed(4)}`),
        ]);
        print(flags, queries.length === 1 ? results[0] : results, text.join('\n'));
        process.exitCode = results.every((r) => r.known) ? 0 : 1;
      });
    },
  );

  withModels(
    withDb(
      withSearch(
        program
          .command('identify')
          .description(
            'who is this? The largest face of the image against the gallery: candidates with similarities, and ' +
              'an open-set decision at the recogniser\u2019s calibrated threshold. Exit 0 known, 1 unknown ' +
              '(or no face), 2 error',
          )
          .argument('<image>', 'image file'),
      ),
    ),
  ).action(
    async (
      image: string,
      flags: DbFlags & ModelFlags & { top: number; threshold?: number; exact?: boolean },
    ) => {
      await withStore(flags, (store) =>
        withPipeline(flags, async (pipeline) => {
          try {
            const id = await identifyImage(store, pipeline, image, {
              k: flags.top,
              threshold: flags.threshold,
              mode: flags.exact ? 'exact' : 'auto',
            });
            const lines = [
              id.known
                ? `${id.match?.name} (similarity ${id.match?.similarity.toFixed(4)} >= ${id.threshold})`
                : `unknown (best similarity ${id.candidates[0]?.similarity.toFixed(4) ?? 'none: empty gallery'} < ${id.threshold})`,
              ...id.candidates.map((c, i) => `  ${i + 1}. ${c.name}\t${c.similarity.toFixed(4)}`),
            ];
            if (id.facesFound > 1)
              console.error(`${id.facesFound} faces found in ${image}: identified the largest`);
            print(flags, { image, ...id }, lines.join('\n'));
            process.exitCode = id.known ? 0 : 1;
          } catch (err) {
            if (err instanceof GalleryError && err.code === 'no-face') {
              console.error(err.message);
              print(
                flags,
                { image, known: false, reason: 'no-face', message: err.message },
                'unknown (no face)',
              );
              process.exitCode = 1;
              return;
            }
            throw err;
          }
        }),
      );
    },
  );
}
