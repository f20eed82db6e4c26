/**
 * Size limits shared by the legacy endpoint, GraphQL and `/uploads` (docs/contract.md "Limits"), so every
 * transport refuses the same inputs with the same numbers.
 */

/** Largest accepted image, in bytes (10 MiB). Larger images are PAYLOAD_TOO_LARGE (413). */
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

/** Most images one ticket may carry. More is BAD_INPUT (400). */
export const MAX_IMAGES_PER_TICKET = 10;
