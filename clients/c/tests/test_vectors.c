/* Every protocol vector (protocol/vectors/valid.json and invalid.json, SPEC.md 12)
 * through the C codec: each valid vector decodes to its message and (unless decode_only) encodes to its frames byte
 * for byte; each invalid vector is refused with its error (or an also_accept code), its
 * details and, on the client channel, the rid of SPEC.md 4.13.
 * Usage: test_vectors VECTOR_DIR */
#define CHECK_MAIN
#include "check.h"
#include "medialoom.h"

#include <string.h>

int test_bounds(void); /* test_bounds.c */
void corrupt_all(ml_channel ch, const ml_frame *frames, size_t n, uint32_t *seed);
static uint32_t seed = 12345;

static int unhex(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* the most frames of a vector (sixty-five-bodies-on-client-channel: a tag and 65 bodies) */
#define MAX_FRAMES 72

static ml_frame from_hex(const char *hex) {
  size_t n = strlen(hex) / 2;
  ml_frame f = {malloc(n ? n : 1), n};
  for (size_t i = 0; i < n; i++) f.data[i] = (unsigned char)(unhex(hex[2 * i]) << 4 | unhex(hex[2 * i + 1]));
  return f;
}

/* frames, or frames_generated: tag, then body_prefix + fill... + body_suffix */
static size_t frames_of(const ml_value *e, ml_frame *out) {
  const ml_value *frames = ml_get(e, "frames");
  if (frames) {
    size_t n = ml_len(frames);
    if (n > MAX_FRAMES) n = MAX_FRAMES; /* then the vector fails its checks */
    for (size_t i = 0; i < n; i++) out[i] = from_hex(ml_as_str(ml_at(frames, i)));
    return n;
  }
  const ml_value *g = ml_get(e, "frames_generated");
  ml_frame prefix = from_hex(ml_get_str(g, "body_prefix", "")),
           suffix = from_hex(ml_get_str(g, "body_suffix", "")),
           fill = from_hex(ml_get_str(g, "fill", "00"));
  size_t size = (size_t)ml_get_int(g, "body_size", 0);
  out[0] = from_hex(ml_get_str(g, "tag", ""));
  out[1] = (ml_frame){malloc(size), size};
  memset(out[1].data, fill.data[0], size);
  memcpy(out[1].data, prefix.data, prefix.size);
  memcpy(out[1].data + size - suffix.size, suffix.data, suffix.size);
  free(prefix.data), free(suffix.data), free(fill.data);
  return 2;
}

static void show(const char *what, const ml_value *v) {
  char *j = ml_to_json(v);
  fprintf(stderr, "  %s: %.600s\n", what, j);
  free(j);
}

static void valid(const ml_value *e) {
  const char *name = ml_get_str(e, "name", "?");
  int ch = ml_channel_from_name(ml_get_str(e, "channel", ""));
  ml_frame frames[MAX_FRAMES];
  size_t n = frames_of(e, frames);
  ml_error err = {0};
  CHECK(ch >= 0, "%s: unknown channel", name);
  ml_value *msg = ml_decode((ml_channel)ch, frames, n, &err);
  CHECK(msg, "%s: decode failed: %s %s", name, err.code, err.message);
  if (!msg && !strcmp(err.code, "protocol.unknown_command"))
    fprintf(stderr, "  (a new command? add it with its fields to clients/c/src/schema.c)\n");
  if (msg && !ml_equal(msg, ml_get(e, "message"))) {
    CHECK(0, "%s: decoded message differs", name);
    show("decoded ", msg);
    show("expected", ml_get(e, "message"));
  }
  if (!ml_get_bool(e, "decode_only", false)) {
    ml_frames out;
    int rc = ml_encode((ml_channel)ch, ml_get(e, "message"), &out, &err);
    CHECK(rc == 0, "%s: encode failed: %s %s", name, err.code, err.message);
    CHECK(rc || (size_t)out.count == n, "%s: encoded %d frames, want %zu", name, out.count, n);
    for (size_t i = 0; !rc && i < n && i < (size_t)out.count; i++)
      CHECK(out.frame[i].size == frames[i].size &&
                !memcmp(out.frame[i].data, frames[i].data, frames[i].size),
            "%s: frame %zu differs (%zu bytes, want %zu)", name, i, out.frame[i].size,
            frames[i].size);
    if (!rc) ml_frames_free(&out);
  }
  if (msg) corrupt_all((ml_channel)ch, frames, n, &seed);
  ml_free(msg);
  ml_error_clear(&err);
  for (size_t i = 0; i < n; i++) free(frames[i].data);
}

static bool accepted(const ml_value *e, const char *code) {
  if (!strcmp(ml_get_str(e, "error", ""), code)) return true;
  const ml_value *also = ml_get(e, "also_accept");
  for (size_t i = 0; i < ml_len(also); i++)
    if (!strcmp(ml_as_str(ml_at(also, i)), code)) return true;
  return false;
}

static void invalid(const ml_value *e) {
  const char *name = ml_get_str(e, "name", "?");
  int ch = ml_channel_from_name(ml_get_str(e, "channel", ""));
  ml_frame frames[MAX_FRAMES];
  size_t n = frames_of(e, frames);
  ml_error err = {0};
  ml_value *msg = ml_decode((ml_channel)ch, frames, n, &err);
  CHECK(!msg, "%s: decoded, but should fail with %s", name, ml_get_str(e, "error", ""));
  if (!msg) {
    CHECK(accepted(e, err.code), "%s: error %s (%s), want %s", name, err.code, err.message,
          ml_get_str(e, "error", ""));
    const ml_value *details = ml_get(e, "details");
    if (details && !strcmp(err.code, ml_get_str(e, "error", "")) && !ml_equal(details, err.details)) {
      CHECK(0, "%s: details differ", name);
      show("got ", err.details);
      show("want", details);
    }
    if (ml_get(e, "rid"))
      CHECK(err.rid == (uint64_t)ml_get_int(e, "rid", -1), "%s: rid %llu, want %lld", name,
            (unsigned long long)err.rid, (long long)ml_get_int(e, "rid", -1));
    CHECK(ch != ML_CH_CLIENT || ml_get(e, "rid"), "%s: a client vector without rid", name);
  }
  ml_free(msg);
  ml_error_clear(&err);
  for (size_t i = 0; i < n; i++) free(frames[i].data);
}

static ml_value *load(const char *dir, const char *file) {
  char path[4096], err[128];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  size_t len;
  char *text = read_file(path, &len);
  if (!text) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(2);
  }
  ml_value *v = ml_from_json(text, len, err, sizeof err);
  free(text);
  if (!v || ml_typeof(v) != ML_ARRAY) {
    fprintf(stderr, "%s: not a JSON array: %s\n", path, err);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "../../protocol/vectors";
  ml_value *good = load(dir, "valid.json"), *bad = load(dir, "invalid.json");
  for (size_t i = 0; i < ml_len(good); i++) valid(ml_at(good, i));
  for (size_t i = 0; i < ml_len(bad); i++) invalid(ml_at(bad, i));
  printf("vectors: %zu valid, %zu invalid\n", ml_len(good), ml_len(bad));
  CHECK(ml_len(good) > 50 && ml_len(bad) > 80, "too few vectors");
  test_bounds();
  ml_free(good);
  ml_free(bad);
  return check_summary("test_vectors");
}
