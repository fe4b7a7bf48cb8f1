/* task_images.c — Fashion-MNIST: shuffled batches of images, test accuracy. */
#include "cli/task.h"
#include "weft/data.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    weft_dataset train, test;
    const char *dir;
    int64_t *perm, perm_epoch;
    float *x;       /* a batch of images (B, rows*cols)                  */
    int32_t *y;
    float *logits;  /* evaluation                                         */
} images;

static int batch_of(const weft_graph *g, const weft_model_io *io) { return (int)g->values[io->y].shape.d[0]; }

static weft_status check(weft_task *t, const weft_graph *g, const weft_model_io *io, bool eval)
{
    images *m = t->impl;
    const weft_dataset *d = eval ? &m->test : &m->train;
    const weft_value *xv = &g->values[io->x];
    const weft_shape *x = &xv->shape;
    int64_t want = weft_shape_numel(x) / x->d[0];
    char a[64];
    if (xv->dtype == WEFT_I32)
        return weft_fail(WEFT_ERR_FORMAT, "%s: images are %dx%d floats; the model's input %s is i32 %s (token ids)",
                         m->dir, d->rows, d->cols, xv->name, weft_shape_str(x, a, sizeof a));
    if ((int64_t)d->rows * d->cols != want)
        return weft_fail(WEFT_ERR_FORMAT, "%s: images are %dx%d, the model takes %lld pixels (its input %s is %s)",
                         m->dir, d->rows, d->cols, (long long)want, xv->name, weft_shape_str(x, a, sizeof a));
    const weft_value *lv = &g->values[io->logits];
    if (lv->shape.ndim != 2 || lv->shape.d[1] < d->nclasses)   /* a label past the logits: out of bounds */
        return weft_fail(WEFT_ERR_SHAPE, "%s: %d classes; the model's logits %s are %s", m->dir, d->nclasses,
                         lv->name, weft_shape_str(&lv->shape, a, sizeof a));
    int B = batch_of(g, io);
    if (!eval && B > d->n) return weft_fail(WEFT_ERR_ARG, "--batch %d is larger than the training set", B);
    if (!eval) t->steps_per_epoch = d->n / B;
    if (eval && (B > d->n || d->n % B))
        return weft_fail(WEFT_ERR_ARG, "--eval-batch %d must divide the %lld test images", B, (long long)d->n);
    return WEFT_OK;
}

static weft_status feed(weft_task *t, weft_exec *ex, const weft_graph *g, const weft_model_io *io,
                        int64_t step, uint64_t seed)
{
    images *m = t->impl;
    int B = batch_of(g, io);
    int64_t spe = m->train.n / B, epoch = step / spe;
    if (!m->perm) {
        m->perm = malloc((size_t)m->train.n * sizeof *m->perm);
        m->x = malloc((size_t)B * (size_t)(m->train.rows * m->train.cols) * sizeof *m->x);
        m->y = malloc((size_t)B * sizeof *m->y);
        m->perm_epoch = -1;
        if (!m->perm || !m->x || !m->y) return weft_fail(WEFT_ERR_NOMEM, "out of memory for a batch");
    }
    if (epoch != m->perm_epoch) {
        weft_dataset_permutation(m->train.n, seed, epoch, m->perm);
        m->perm_epoch = epoch;
    }
    weft_dataset_gather(&m->train, m->perm + (step % spe) * B, B, m->x, m->y);
    WEFT_TRY(weft_exec_feed(ex, io->x, m->x, WEFT_F32));
    return weft_exec_feed(ex, io->y, m->y, WEFT_I32);
}

static weft_status evaluate(weft_task *t, weft_exec *ex, const weft_graph *g, const weft_model_io *io,
                            weft_eval_result *r)
{
    images *m = t->impl;
    const weft_dataset *test = &m->test;
    int B = batch_of(g, io);
    int C = (int)g->values[io->logits].shape.d[1];
    int64_t pix = (int64_t)test->rows * test->cols, nb = test->n / B;
    float *logits = malloc((size_t)B * (size_t)C * sizeof *logits);
    if (!logits) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    int64_t correct = 0, seen = 0;
    double lsum = 0;
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD, .eval = true };
    weft_status s = WEFT_OK;
    for (int64_t b = 0; b < nb && !s; b++) {
        s = weft_exec_feed(ex, io->x, test->images + b * B * pix, WEFT_F32);
        if (!s) s = weft_exec_feed(ex, io->y, test->labels + b * B, WEFT_I32);
        if (!s) s = weft_exec_run(ex, &ro);
        if (!s) s = weft_exec_read(ex, io->logits, logits);
        if (s) break;
        lsum += *(float *)weft_exec_ptr(ex, io->loss) * B;
        for (int i = 0; i < B; i++) {
            int best = 0;
            for (int c = 1; c < C; c++) if (logits[i * C + c] > logits[i * C + best]) best = c;
            correct += best == test->labels[b * B + i];
        }
        seen += B;
    }
    free(logits);
    if (!s) { r->loss = lsum / (double)seen; r->acc = (double)correct / (double)seen; r->bpb = NAN; }
    return s;
}

static void close_images(weft_task *t)
{
    images *m = t->impl;
    if (!m) return;
    weft_dataset_free(&m->train);
    weft_dataset_free(&m->test);
    free(m->perm); free(m->x); free(m->y);
    free(m);
    t->impl = NULL;
}

weft_status weft_task_images_open(weft_task *t, const weft_opts *o, bool train, bool eval)
{
    images *m = calloc(1, sizeof *m);
    if (!m) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    *t = (weft_task){ .name = "Fashion-MNIST", .samples_per_step = 1, .impl = m, .check = check,
                      .feed = feed, .evaluate = evaluate, .close = close_images };
    m->dir = o->data_dir ? o->data_dir : WEFT_FMNIST_DIR;
    weft_status s = WEFT_OK;
    if (train) s = weft_fmnist_load(m->dir, "train", &m->train);
    if (!s && eval) s = weft_fmnist_load(m->dir, "t10k", &m->test);
    if (s) { close_images(t); return s; }
    return WEFT_OK;
}
