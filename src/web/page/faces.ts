/**
 * The page's faces view: two photos (files or the webcam) → the library's face pipeline on ONNX Runtime
 * Web (face-web.ts) → boxes, landmarks and aligned crops drawn, similarity and the decision at the
 * recogniser's calibrated threshold. With `arcface serve` behind the page, a photo can be enrolled under a
 * name and identified through the HTTP API with the user's key. Failures are said in #faces-error.
 */
import { alignFace } from '../../face/align.js';
import type { FaceEmbedding, FacePipeline } from '../../face/pipeline.js';
import type { RawImage } from '../../face/image.js';
import type { RgbImage } from '../../face/types.js';
import { decideSame } from '../../util/vector.js';
import { FACE_MODELS_DIR, createWebFacePipeline } from '../face-web.js';

type Side = 'a' | 'b';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page: #${id} is missing`);
  return el as T;
};

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A decoded photo: its pixels for the pipeline, the bitmap to draw, and encoded bytes for the API. */
interface Photo {
  readonly raw: RawImage;
  readonly bitmap: ImageBitmap;
  readonly blob: Blob;
}

/** Decode with the browser's own decoder (EXIF orientation applied), as RGBA pixels. */
async function decodePhoto(blob: Blob): Promise<Photo> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', premultiplyAlpha: 'none' });
  } catch {
    throw new Error('that file is not an image this browser can decode');
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('this browser gives no 2-D canvas');
  ctx.drawImage(bitmap, 0, 0);
  const { data, width, height } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  return { raw: { data, width, height, channels: 4 }, bitmap, blob };
}

/** One frame from the webcam, as a JPEG blob; the camera is released straight after. */
async function webcamFrame(video: HTMLVideoElement): Promise<Blob> {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  try {
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    // Let the exposure settle for a moment.
    await new Promise((done) => setTimeout(done, 600));
    const canvas = new OffscreenCanvas(video.videoWidth, video.videoHeight);
    canvas.getContext('2d')?.drawImage(video, 0, 0);
    return await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.95 });
  } finally {
    for (const t of stream.getTracks()) t.stop();
    video.srcObject = null;
    video.hidden = true;
  }
}

function drawPhoto(canvas: HTMLCanvasElement, photo: Photo, e: FaceEmbedding | null): void {
  const scale = Math.min(1, 360 / photo.bitmap.width, 360 / photo.bitmap.height);
  canvas.width = Math.round(photo.bitmap.width * scale);
  canvas.height = Math.round(photo.bitmap.height * scale);
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.drawImage(photo.bitmap, 0, 0, canvas.width, canvas.height);
  const face = e?.face;
  if (!face) return;
  ctx.lineWidth = 2;
  ctx.strokeStyle = '#00e000';
  const { x1, y1, x2, y2 } = face.box;
  ctx.strokeRect(x1 * scale, y1 * scale, (x2 - x1) * scale, (y2 - y1) * scale);
  ctx.fillStyle = '#ff2020';
  for (const [x, y] of face.landmarks) {
    ctx.beginPath();
    ctx.arc(x * scale, y * scale, 3, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function drawCrop(canvas: HTMLCanvasElement, crop: RgbImage | null): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  if (!crop) {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    return;
  }
  canvas.width = crop.width;
  canvas.height = crop.height;
  const rgba = new ImageData(crop.width, crop.height);
  for (let p = 0; p < crop.width * crop.height; p++) {
    rgba.data[p * 4] = crop.data[p * 3];
    rgba.data[p * 4 + 1] = crop.data[p * 3 + 1];
    rgba.data[p * 4 + 2] = crop.data[p * 3 + 2];
    rgba.data[p * 4 + 3] = 255;
  }
  ctx.putImageData(rgba, 0, 0);
}

/** Set the faces view up; the models load in the background while the toy view is usable. */
export function setUpFaces(runtime: string, threads: number): void {
  const status = $<HTMLParagraphElement>('faces-status');
  const errorBox = $<HTMLParagraphElement>('faces-error');
  const result = $<HTMLParagraphElement>('faces-result');
  const json = $<HTMLOutputElement>('faces-json');
  const video = $<HTMLVideoElement>('webcam');
  const body = document.body;
  const photos = new Map<Side, Photo>();
  const embeddings = new Map<Side, FaceEmbedding>();
  let pipeline: FacePipeline | null = null;

  const fail = (text: string): void => {
    errorBox.textContent = text;
    errorBox.hidden = false;
    body.dataset.faces = 'failed';
  };
  const clearError = (): void => {
    errorBox.hidden = true;
    errorBox.textContent = '';
  };

  body.dataset.faces = 'loading';
  status.textContent = 'Face models loading… (you can choose photos meanwhile)';
  const loading = createWebFacePipeline(
    async (name) => {
      const res = await fetch(`${FACE_MODELS_DIR}/${name}`);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    { threads, onLoading: (file) => (status.textContent = `Face models loading: ${file}…`) },
  ).then(
    ({ pipeline: p, manifest }) => {
      pipeline = p;
      const th = p.recognizer?.threshold ?? NaN;
      status.textContent = `Face models ready (${manifest.detector.spec}, ${manifest.recognizer.spec}, threshold ${th}; ${runtime}).`;
      body.dataset.faces = 'ready';
      return p;
    },
    (err: unknown) => {
      fail(`The face models could not load: ${message(err)}`);
      throw err;
    },
  );

  function showResult(): void {
    const a = embeddings.get('a');
    const b = embeddings.get('b');
    const rec = pipeline?.recognizer;
    if (!a || !b || !rec || rec.threshold === undefined) return;
    const { similarity, same } = decideSame(a.embedding, b.embedding, rec.threshold, ['photo A', 'photo B']);
    result.textContent = `Similarity ${similarity.toFixed(4)} (threshold ${rec.threshold}): ${
      same ? 'the same person' : 'different people'
    }.`;
    const ms = (e: FaceEmbedding): number => e.times.detectMs + e.times.alignMs + e.times.embedMs;
    json.textContent = JSON.stringify({
      similarity,
      threshold: rec.threshold,
      same,
      msPerFace: [ms(a), ms(b)],
      faces: [a.face, b.face],
    });
    body.dataset.faces = 'done';
  }

  async function process(side: Side, blob: Blob): Promise<void> {
    clearError();
    const label = `photo ${side.toUpperCase()}`;
    embeddings.delete(side);
    json.textContent = '';
    result.textContent = '';
    const photo = await decodePhoto(blob);
    photos.set(side, photo);
    drawPhoto($<HTMLCanvasElement>(`canvas-${side}`), photo, null);
    drawCrop($<HTMLCanvasElement>(`crop-${side}`), null);
    if (!pipeline)
      status.textContent = 'Face models still loading: the photo is processed when they are ready…';
    const p = await loading;
    body.dataset.faces = 'busy';
    status.textContent = `Finding the face in ${label}…`;
    const e = await p.embed(photo.raw);
    if (e.fallback) {
      drawPhoto($<HTMLCanvasElement>(`canvas-${side}`), photo, null);
      body.dataset.faces = 'ready';
      throw new Error(`No face found in ${label}: choose a photo where a face is clearly visible.`);
    }
    const rec = p.recognizer;
    const face = e.face;
    drawPhoto($<HTMLCanvasElement>(`canvas-${side}`), photo, e);
    if (rec && face) {
      const rgb = {
        data: new Uint8Array((photo.raw.data.length / 4) * 3),
        width: photo.raw.width,
        height: photo.raw.height,
      };
      for (let i = 0, j = 0; i < photo.raw.data.length; i += 4, j += 3) {
        rgb.data[j] = photo.raw.data[i];
        rgb.data[j + 1] = photo.raw.data[i + 1];
        rgb.data[j + 2] = photo.raw.data[i + 2];
      }
      drawCrop(
        $<HTMLCanvasElement>(`crop-${side}`),
        alignFace(rgb, face.landmarks, rec.inputSize.width, rec.template),
      );
    }
    embeddings.set(side, e);
    // For bench/web.ts: the pipeline's own stage times of this face, and a count of faces done.
    body.dataset.faceMs = String(e.times.detectMs + e.times.alignMs + e.times.embedMs);
    body.dataset.facesDone = String(Number(body.dataset.facesDone ?? 0) + 1);
    status.textContent = `${label}: ${e.facesFound} face${e.facesFound === 1 ? '' : 's'} found${
      e.facesFound > 1 ? ' (the largest is compared)' : ''
    }.`;
    body.dataset.faces = 'ready';
    showResult();
  }

  const run = (side: Side, blob: () => Promise<Blob>): void => {
    blob()
      .then((b) => process(side, b))
      .catch((err: unknown) => fail(message(err)));
  };

  for (const side of ['a', 'b'] as const) {
    const input = $<HTMLInputElement>(`photo-${side}`);
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      if (file) run(side, () => Promise.resolve(file));
    });
    const cam = $<HTMLButtonElement>(`webcam-${side}`);
    if (!navigator.mediaDevices?.getUserMedia) {
      cam.disabled = true;
      cam.title = 'The webcam is not available here (it needs https or localhost, and a camera).';
    }
    cam.addEventListener('click', () =>
      run(side, () =>
        webcamFrame(video).catch((err: unknown) => {
          throw new Error(`The webcam could not be used: ${message(err)}`);
        }),
      ),
    );
  }

  setUpGallery(photos, fail, clearError);
}

/** Enrol and identify through `arcface serve`'s HTTP API (same origin), with the user's API key. */
function setUpGallery(
  photos: ReadonlyMap<Side, Photo>,
  fail: (text: string) => void,
  clearError: () => void,
): void {
  const key = $<HTMLInputElement>('api-key');
  const name = $<HTMLInputElement>('enrol-name');
  const out = $<HTMLParagraphElement>('gallery-result');
  const json = $<HTMLOutputElement>('gallery-json');

  async function call(path: string, body: BodyInit, type: string): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { 'content-type': type };
    if (key.value.trim()) headers['x-api-key'] = key.value.trim();
    let res: Response;
    try {
      res = await fetch(path, { method: 'POST', headers, body });
    } catch (err) {
      throw new Error(`the service did not answer (${message(err)})`, { cause: err });
    }
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // A static server answers HTML or nothing.
    }
    if (res.status === 404 && !('type' in parsed)) {
      throw new Error('no arcface service behind this page: serve it with `arcface serve` to use a gallery');
    }
    if (!res.ok) {
      const detail = typeof parsed.detail === 'string' ? parsed.detail : (parsed.title ?? res.statusText);
      throw new Error(`${path}: HTTP ${res.status}: ${String(detail)}`);
    }
    return parsed;
  }

  const photoA = (): Photo => {
    const p = photos.get('a');
    if (!p) throw new Error('choose photo A first');
    return p;
  };

  $<HTMLFormElement>('gallery-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const action = (event.submitter as HTMLButtonElement | null)?.value;
    clearError();
    out.textContent = 'Asking the service…';
    json.textContent = '';
    (async () => {
      const photo = photoA();
      if (action === 'enrol') {
        const who = name.value.trim();
        if (!who) throw new Error('give a name to enrol photo A under');
        const subject = await call('/v1/subjects', JSON.stringify({ name: who }), 'application/json');
        const face = await call(
          `/v1/subjects/${String(subject.id)}/faces`,
          photo.blob,
          photo.blob.type || 'image/jpeg',
        );
        out.textContent = `Enrolled photo A as ${who} (subject ${String(subject.id)}, face ${String(face.id)}).`;
        json.textContent = JSON.stringify({ action, subject, face });
      } else {
        const r = await call('/v1/identify', photo.blob, photo.blob.type || 'image/jpeg');
        const match = r.match as { name?: string; similarity?: number } | null;
        out.textContent =
          r.known === true && match
            ? `Photo A is ${String(match.name)} (similarity ${Number(match.similarity).toFixed(4)}).`
            : `Photo A matches nobody in the gallery${
                match ? ` (closest: ${String(match.name)}, ${Number(match.similarity).toFixed(4)})` : ''
              }.`;
        json.textContent = JSON.stringify({ action: 'identify', ...r });
      }
    })().catch((err: unknown) => {
      out.textContent = '';
      fail(message(err));
    });
  });
}
