import { useEffect, useState } from 'preact/hooks';
import { gql, uploadImages } from './api';

const ACCEPT = 'image/png,image/jpeg,image/gif,image/webp';
const MAX_IMAGES = 10;
const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

export function NewTicket(props: { onCreated(id: string): void }) {
  const [content, setContent] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const [previews, setPreviews] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const urls = files.map((file) => URL.createObjectURL(file));
    setPreviews(urls);
    return () => urls.forEach((url) => URL.revokeObjectURL(url));
  }, [files]);

  const pick = (list: FileList | null) => {
    const chosen = Array.from(list ?? []);
    const all = [...files, ...chosen];
    if (all.length > MAX_IMAGES) return setError(`At most ${MAX_IMAGES} images per ticket.`);
    const big = chosen.find((file) => file.size > MAX_IMAGE_BYTES);
    if (big) return setError(`${big.name} is larger than 10 MiB.`);
    setError(null);
    setFiles(all);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const images = await uploadImages(files);
      const data = await gql<{ createTicket: { id: string } }>('mutation File($input: CreateTicketInput!) { createTicket(input: $input) { id } }', {
        input: { content, images },
      });
      props.onCreated(data.createTicket.id);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="page">
      <h2>New ticket</h2>
      <form onSubmit={submit} aria-label="New ticket" class="new-ticket">
        <label>
          What is the problem?
          <textarea name="content" rows={6} required maxLength={65536} value={content} onInput={(e) => setContent(e.currentTarget.value)} />
        </label>
        <label>
          Images (PNG, JPEG, GIF or WebP; up to 10, 10 MiB each)
          <input
            name="images"
            type="file"
            multiple
            accept={ACCEPT}
            onChange={(e) => {
              pick(e.currentTarget.files);
              e.currentTarget.value = '';
            }}
          />
        </label>
        {previews.length > 0 && (
          <ul class="images previews" aria-label="Images to attach">
            {previews.map((url, index) => (
              <li>
                <img src={url} alt={`Preview of ${files[index]?.name ?? 'an image'}`} />
                <button
                  type="button"
                  class="secondary small"
                  onClick={() => setFiles(files.filter((_, i) => i !== index))}
                  aria-label={`Remove ${files[index]?.name ?? 'image'}`}
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || !content.trim()}>
          {busy ? 'Filing…' : 'File ticket'}
        </button>
      </form>
    </main>
  );
}
