/*
 * Compiled EVT 3.0 decoding for hpe_ros.io.evt3_native (plain C99, no Python C API; called
 * through ctypes with numpy buffers).
 *
 * One pass over the 16-bit words, as a state machine with the same semantics as the numpy
 * decoder in hpe_ros/io/events.py (see its docstrings for the format and the rules):
 *   - TIME_HIGH: a value more than 10 ticks below the previous one is a wrap of the 24-bit
 *     counter; TIME_LOW after a TIME_HIGH makes event times known.
 *   - ADDR_Y sets the row; ADDR_X is one event; VECT_BASE_X sets base x and polarity;
 *     VECT_12 / VECT_8 emit base + bit for each set bit of their 12 / 8 low bits, then advance
 *     the base by 12 / 8 (always, also while the base is not known yet).
 *   - Events before time, row (or, for vectors, base) are known, or outside width x height
 *     (when > 0), are counted in cd_total but not written.
 *   - EXT_TRIGGER is written once time is known.
 *   - Reserved word types stop decoding with EVT3_RESERVED_WORD at that word.
 *   - Every written time is sensor time (ns) + job->t_offset_ns (the caller's clock offset).
 * The caller owns every buffer; when one may overflow, decoding stops before the word that
 * needs more room, with all progress and state saved in the job, and can be resumed.
 *
 * Output records are written in the layout of numpy's packed structured dtypes
 * CD  = [x <u2, y <u2, t <i8, p i1]   (13 bytes)
 * TRG = [t <i8, p i1, id u1]          (10 bytes)
 * in host byte order: the Python wrapper only uses this on little-endian hosts.
 */

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define EVT3_CD_RECORD 13
#define EVT3_TRIGGER_RECORD 10
#define EVT3_MAX_EVENTS_PER_WORD 12
#define EVT3_WRAP_TOLERANCE_TICKS 10

enum evt3_status {
    EVT3_DONE = 0,          /* every word decoded */
    EVT3_NEED_CD_ROOM = 1,  /* grow the CD buffer, then call again */
    EVT3_NEED_TRIGGER_ROOM = 2,
    EVT3_RESERVED_WORD = 3  /* job->position is the index of a word of a reserved type */
};

/* Field order and meaning as hpe_ros.io.events.Evt3State (booleans as 0 / 1). */
typedef struct {
    int64_t y, y_valid, base_x, polarity, base_valid, time_high, high_known, wraps, time_low,
        seen_high, time_valid;
} evt3_state;

typedef struct {
    const uint8_t *raw;   /* n_words 16-bit words */
    int64_t n_words;
    int64_t big_endian;
    int64_t width, height; /* 0: no limit */
    uint8_t *cd;           /* cd_capacity CD records */
    int64_t cd_capacity;
    uint8_t *triggers;     /* trigger_capacity trigger records */
    int64_t trigger_capacity;
    /* progress, read and written: next word, records written, CD events seen (kept or not) */
    int64_t position, cd_count, trigger_count, cd_total;
    evt3_state state;
    int64_t t_offset_ns; /* added to every written time */
} evt3_job;

static inline void put_cd(uint8_t *record, uint16_t x, uint16_t y, int64_t t_ns, int8_t p) {
    memcpy(record, &x, 2);
    memcpy(record + 2, &y, 2);
    memcpy(record + 4, &t_ns, 8);
    memcpy(record + 12, &p, 1);
}

/* Index of the lowest set bit of a non-zero mask. */
static inline int lowest_bit(uint32_t mask) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctz(mask);
#else
    int bit = 0;
    while (!(mask & 1u)) { mask >>= 1; bit++; }
    return bit;
#endif
}

/* Index of the lowest / highest set bit of a non-zero 64-bit mask. */
static inline int lowest_bit64(uint64_t mask) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(mask);
#else
    int bit = 0;
    while (!(mask & 1u)) { mask >>= 1; bit++; }
    return bit;
#endif
}

static inline int highest_bit64(uint64_t mask) {
#if defined(__GNUC__) || defined(__clang__)
    return 63 - __builtin_clzll(mask);
#else
    int bit = 63;
    while (!(mask >> 63)) { mask <<= 1; bit--; }
    return bit;
#endif
}

/*
 * Fast path for 64 little-endian words once row and time are known (the usual case): if they
 * hold only ADDR_Y, ADDR_X, TIME_LOW, TIME_HIGH (with no wrap) and ignored words, each ADDR_X
 * takes its row and time from the last ADDR_Y / TIME_LOW / TIME_HIGH before it in the block
 * (found with bit masks of the word types) or from the state before the block. This avoids a
 * per-word branch on the type, whose irregular order mispredicts. Returns 0, changing nothing,
 * when the block needs the per-word switch instead.
 */
#define EVT3_BLOCK 64
static int decode_block(const uint8_t *raw, uint8_t *cd_out, int64_t width_limit, int64_t height_limit,
                        int64_t t_offset_ns, int64_t *k_io, int64_t *total_io, int64_t *y_io, int64_t *t_us_io) {
    uint16_t w[EVT3_BLOCK];
    uint64_t mx = 0, my = 0, ml = 0, mh = 0, other = 0;
    memcpy(w, raw, sizeof w); /* the caller only uses this on little-endian hosts */
#if defined(__SSE2__)
    {
        const __m128i x_type = _mm_set1_epi16(0x2), y_type = _mm_set1_epi16(0x0);
        const __m128i low_type = _mm_set1_epi16(0x6), high_type = _mm_set1_epi16(0x8);
        const __m128i c4_type = _mm_set1_epi16(0x7), others_type = _mm_set1_epi16(0xE);
        const __m128i c12_type = _mm_set1_epi16(0xF);
        int q;
        for (q = 0; q < EVT3_BLOCK / 16; q++) {
            const __m128i a = _mm_srli_epi16(_mm_loadu_si128((const __m128i *)(w + 16 * q)), 12);
            const __m128i b = _mm_srli_epi16(_mm_loadu_si128((const __m128i *)(w + 16 * q + 8)), 12);
            const int shift = 16 * q;
#define EVT3_TYPE_BITS(TYPE) ((uint64_t)(uint32_t)_mm_movemask_epi8(_mm_packs_epi16(_mm_cmpeq_epi16(a, TYPE), \
                                                                                     _mm_cmpeq_epi16(b, TYPE))) << shift)
            mx |= EVT3_TYPE_BITS(x_type);
            my |= EVT3_TYPE_BITS(y_type);
            ml |= EVT3_TYPE_BITS(low_type);
            mh |= EVT3_TYPE_BITS(high_type);
            other |= EVT3_TYPE_BITS(c4_type) | EVT3_TYPE_BITS(others_type) | EVT3_TYPE_BITS(c12_type);
#undef EVT3_TYPE_BITS
        }
    }
#else
    {
        int j;
        for (j = 0; j < EVT3_BLOCK; j++) {
            const uint32_t type = w[j] >> 12;
            const uint64_t bit = (uint64_t)1 << j;
            mx |= type == 0x2 ? bit : 0;
            my |= type == 0x0 ? bit : 0;
            ml |= type == 0x6 ? bit : 0;
            mh |= type == 0x8 ? bit : 0;
            other |= (type == 0x7 || type == 0xE || type == 0xF) ? bit : 0;
        }
    }
#endif
    if (~(mx | my | ml | mh | other)) return 0; /* vectors, triggers or reserved types */
    const int64_t t_us = *t_us_io;
    int64_t high = (t_us >> 12) & 0xFFF;
    uint64_t m;
    for (m = mh; m; m &= m - 1) {
        const int64_t value = w[lowest_bit64(m)] & 0xFFF;
        if (high - value > EVT3_WRAP_TOLERANCE_TICKS) return 0; /* a wrap: the switch counts it */
        high = value;
    }
    const int64_t y0 = *y_io, low0 = t_us & 0xFFF, high0 = (t_us >> 12) & 0xFFF;
    const int64_t wraps_us = t_us & ~(int64_t)0xFFFFFF;
    int64_t k = *k_io, total = *total_io;
    for (m = mx; m; m &= m - 1) {
        const int bit = lowest_bit64(m);
        const uint64_t before = ((uint64_t)1 << bit) - 1;
        const uint64_t ys = my & before, lows = ml & before, highs = mh & before;
        const int64_t y = ys ? (int64_t)(w[highest_bit64(ys)] & 0x7FF) : y0;
        const int64_t low = lows ? (int64_t)(w[highest_bit64(lows)] & 0xFFF) : low0;
        const int64_t high_here = highs ? (int64_t)(w[highest_bit64(highs)] & 0xFFF) : high0;
        const int64_t x = w[bit] & 0x7FF;
        put_cd(cd_out + EVT3_CD_RECORD * k, (uint16_t)x, (uint16_t)y, (wraps_us | (high_here << 12) | low) * 1000 + t_offset_ns,
               (int8_t)((w[bit] >> 11) & 1));
        k += (y < height_limit) & (x < width_limit);
        total++;
    }
    *k_io = k;
    *total_io = total;
    if (my) *y_io = w[highest_bit64(my)] & 0x7FF;
    *t_us_io = wraps_us | (high << 12) | (ml ? (int64_t)(w[highest_bit64(ml)] & 0xFFF) : low0);
    return 1;
}

static inline int64_t time_ns(int64_t wraps, int64_t high, int64_t low) {
    return ((wraps << 24) + (high << 12) + low) * 1000;
}

/* The decoding loop, once per byte order so that word loads are plain 16-bit loads. */
#define EVT3_DEFINE_DECODER(NAME, LOW_BYTE, HIGH_BYTE, USE_BLOCKS)                              \
static int NAME(evt3_job *job) {                                                                \
    const uint8_t *raw = job->raw;                                                              \
    const int64_t n = job->n_words;                                                             \
    const int64_t width_limit = job->width > 0 ? job->width : INT64_MAX;                        \
    const int64_t height_limit = job->height > 0 ? job->height : INT64_MAX;                     \
    const int64_t offset = job->t_offset_ns;                                                    \
    evt3_state s = job->state;                                                                  \
    int64_t i = job->position, k = job->cd_count, tk = job->trigger_count, total = job->cd_total; \
    int64_t t_ns = time_ns(s.wraps, s.time_high, s.time_low);                                   \
    int64_t row_ok = s.time_valid && s.y_valid && s.y < height_limit;                           \
    int status = EVT3_DONE;                                                                     \
    while (i < n) {                                                                             \
        /* words that surely fit the CD buffer (a word gives at most 12 events) */              \
        int64_t block_end = i + (job->cd_capacity - k) / EVT3_MAX_EVENTS_PER_WORD;              \
        if (block_end > n) block_end = n;                                                       \
        if (block_end <= i) { status = EVT3_NEED_CD_ROOM; break; }                              \
        while (i < block_end) {                                                                 \
        const int64_t stop = block_end - i > EVT3_BLOCK ? i + EVT3_BLOCK : block_end;           \
        if (USE_BLOCKS && stop - i == EVT3_BLOCK && s.time_valid && s.y_valid && s.high_known) { \
            int64_t y = s.y, t_us = (s.wraps << 24) | (s.time_high << 12) | s.time_low;         \
            if (decode_block(raw + 2 * i, job->cd, width_limit, height_limit, offset, &k, &total, &y, &t_us)) { \
                s.y = y;                                                                        \
                s.wraps = t_us >> 24;                                                           \
                s.time_high = (t_us >> 12) & 0xFFF;                                             \
                s.time_low = t_us & 0xFFF;                                                      \
                t_ns = t_us * 1000;                                                             \
                row_ok = s.y < height_limit;                                                    \
                i = stop;                                                                       \
                continue;                                                                       \
            }                                                                                   \
        }                                                                                       \
        for (; i < stop; i++) {                                                                 \
            const uint32_t w = (uint32_t)raw[2 * i + LOW_BYTE] | ((uint32_t)raw[2 * i + HIGH_BYTE] << 8); \
            switch (w >> 12) {                                                                  \
            case 0x0: /* ADDR_Y */                                                              \
                s.y = w & 0x7FF;                                                                \
                s.y_valid = 1;                                                                  \
                row_ok = s.time_valid && s.y < height_limit;                                    \
                break;                                                                          \
            case 0x2: { /* ADDR_X */                                                            \
                const int64_t x = w & 0x7FF;                                                    \
                put_cd(job->cd + EVT3_CD_RECORD * k, (uint16_t)x, (uint16_t)s.y, t_ns + offset,          \
                       (int8_t)((w >> 11) & 1));                                                \
                k += row_ok & (x < width_limit);                                                \
                total++;                                                                        \
                break;                                                                          \
            }                                                                                   \
            case 0x3: /* VECT_BASE_X */                                                         \
                s.base_x = w & 0x7FF;                                                           \
                s.polarity = (w >> 11) & 1;                                                     \
                s.base_valid = 1;                                                               \
                break;                                                                          \
            case 0x4: /* VECT_12 */                                                             \
            case 0x5: { /* VECT_8 */                                                            \
                const int is_12 = (w >> 12) == 0x4;                                             \
                uint32_t mask = w & (is_12 ? 0xFFFu : 0xFFu);                                   \
                const int64_t ok = row_ok & s.base_valid;                                       \
                while (mask) {                                                                  \
                    const int64_t x = s.base_x + lowest_bit(mask);                           \
                    put_cd(job->cd + EVT3_CD_RECORD * k, (uint16_t)x, (uint16_t)s.y, t_ns + offset,      \
                           (int8_t)s.polarity);                                                 \
                    k += ok & (x < width_limit);                                                \
                    total++;                                                                    \
                    mask &= mask - 1;                                                           \
                }                                                                               \
                s.base_x += is_12 ? 12 : 8;                                                     \
                break;                                                                          \
            }                                                                                   \
            case 0x6: /* TIME_LOW */                                                            \
                s.time_low = w & 0xFFF;                                                         \
                s.time_valid |= s.seen_high;                                                    \
                t_ns = time_ns(s.wraps, s.time_high, s.time_low);                               \
                row_ok = s.time_valid && s.y_valid && s.y < height_limit;                       \
                break;                                                                          \
            case 0x8: { /* TIME_HIGH */                                                         \
                const int64_t high = w & 0xFFF;                                                 \
                if (s.high_known && s.time_high - high > EVT3_WRAP_TOLERANCE_TICKS) s.wraps++;  \
                s.time_high = high;                                                             \
                s.high_known = 1;                                                               \
                s.seen_high = 1;                                                                \
                t_ns = time_ns(s.wraps, s.time_high, s.time_low);                               \
                break;                                                                          \
            }                                                                                   \
            case 0xA: /* EXT_TRIGGER */                                                         \
                if (s.time_valid) {                                                             \
                    if (tk >= job->trigger_capacity) { status = EVT3_NEED_TRIGGER_ROOM; goto out; } \
                    uint8_t *record = job->triggers + EVT3_TRIGGER_RECORD * tk;                 \
                    const uint8_t edge = w & 1, channel = (w >> 8) & 0xF;                       \
                    const int64_t t_trigger = t_ns + offset;                                    \
                    memcpy(record, &t_trigger, 8);                                              \
                    memcpy(record + 8, &edge, 1);                                               \
                    memcpy(record + 9, &channel, 1);                                            \
                    tk++;                                                                       \
                }                                                                               \
                break;                                                                          \
            case 0x1: case 0x9: case 0xB: case 0xC: case 0xD: /* reserved */                   \
                status = EVT3_RESERVED_WORD;                                                    \
                goto out;                                                                       \
            default: /* CONTINUED_4, OTHERS, CONTINUED_12: nothing to decode */                 \
                break;                                                                          \
            }                                                                                   \
        }                                                                                       \
        }                                                                                       \
    }                                                                                           \
out:                                                                                            \
    job->state = s;                                                                             \
    job->position = i;                                                                          \
    job->cd_count = k;                                                                          \
    job->trigger_count = tk;                                                                    \
    job->cd_total = total;                                                                      \
    return status;                                                                              \
}

/* 64-word blocks read words in host order: only for little-endian streams (the Python side only
 * loads this library on little-endian hosts). */
EVT3_DEFINE_DECODER(decode_little_endian, 0, 1, 1)
EVT3_DEFINE_DECODER(decode_big_endian, 1, 0, 0)

/* Decodes job->raw from job->position on; returns an evt3_status. */
int hpe_evt3_decode(evt3_job *job) {
    return job->big_endian ? decode_big_endian(job) : decode_little_endian(job);
}

/*
 * Batches: consecutive packets of one stream decoded in one call, each exactly as
 * hpe_evt3_decode decodes it alone (the state carries from packet to packet), and placed on the
 * ROS clock as hpe_ros.io.events.EventPacketDecoder does packet by packet: the first packet
 * with an event fixes offset = stamp - (sensor time of its first event); a later packet whose
 * first event is more than reanchor_ns off its stamp fixes it again (and its events move by the
 * change). A packet with a reserved word leaves no events and the state it found, resynced
 * (Evt3State.resynced); the next packet goes on from there. The records of all packets follow
 * one another in job->cd / job->triggers; on EVT3_NEED_*_ROOM grow that buffer and call again.
 */
#define EVT3_REFUSED_RESYNC (-1) /* n_words: refused before decoding (not bytes, odd size): resync */
#define EVT3_SKIPPED (-2)        /* n_words: not for this decoder (another encoding, refused): untouched */

typedef struct {
    /* in */
    int64_t byte_offset; /* of the packet's words in batch->raw */
    int64_t n_words;     /* or EVT3_REFUSED_RESYNC / EVT3_SKIPPED */
    int64_t big_endian, width, height;
    int64_t stamp_ns;
    /* out */
    int64_t cd_end, trigger_end; /* records written once this packet is done */
    int64_t cd_total;            /* CD events in the packet, kept or dropped */
    int64_t reserved_word;       /* -1, or the index of its first reserved word */
    int64_t reanchored;          /* 1: the ROS time offset was fixed again at this packet */
    int64_t in_order;            /* 1: its CD times never decrease, from the batch's CD event before it on */
    int64_t sorted;              /* 1: its own CD times never decrease */
} evt3_packet;

typedef struct {
    evt3_job *job; /* the stream's job: buffers, counts, state */
    const uint8_t *raw;
    evt3_packet *packets;
    int64_t n_packets;
    int64_t next;     /* progress: the packet to decode (or to resume) */
    int64_t started;  /* 1: packet `next` is partly decoded */
    evt3_state saved; /* the state before packet `next` */
    int64_t cd_start, trigger_start, total_start; /* job counts before packet `next` */
    int64_t ros_time; /* 1: anchor to the stamps; 0: sensor time */
    int64_t offset_known, offset_ns, reanchor_ns;
    int64_t has_last, last_t; /* the batch's newest CD time so far (for in_order) */
    /* totals over the batch (out): packets decoded, refused for reserved words, CD events dropped,
     * re-anchored, not in order */
    int64_t decoded, reserved, dropped, reanchored, out_of_order;
} evt3_batch;

static evt3_state resynced(evt3_state s) {
    evt3_state r;
    memset(&r, 0, sizeof r);
    r.time_high = s.time_high;
    r.high_known = s.high_known;
    r.wraps = s.wraps;
    r.time_low = s.time_low;
    return r;
}

static inline int64_t read_time(const uint8_t *at) {
    int64_t t;
    memcpy(&t, at, 8);
    return t;
}

/* Two's complement arithmetic, as numpy's int64 (no undefined overflow on hostile stamps). */
static inline int64_t wrapping_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t wrapping_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }

static void shift_times(uint8_t *records, int64_t count, int64_t record_size, int64_t time_at, int64_t step) {
    int64_t k;
    for (k = 0; k < count; k++) {
        uint8_t *at = records + record_size * k + time_at;
        const int64_t t = wrapping_add(read_time(at), step);
        memcpy(at, &t, 8);
    }
}

/* The ROS clock for packet p, just decoded (its records start at the batch's *_start counts). */
static void anchor(evt3_batch *b, evt3_packet *p) {
    evt3_job *job = b->job;
    const int64_t n_cd = job->cd_count - b->cd_start, n_trigger = job->trigger_count - b->trigger_start;
    if (!n_cd && !n_trigger) return;
    uint8_t *cd = job->cd + EVT3_CD_RECORD * b->cd_start, *triggers = job->triggers + EVT3_TRIGGER_RECORD * b->trigger_start;
    int64_t first = n_cd ? read_time(cd + 4) : (int64_t)1 << 62; /* MAX_ABS_TIME_NS when none */
    if (n_trigger && read_time(triggers) < first) first = read_time(triggers);
    const int64_t before = b->offset_known ? b->offset_ns : 0, gap = wrapping_sub(p->stamp_ns, first);
    if (!b->offset_known) {
        b->offset_ns = gap;
        b->offset_known = 1;
    } else if (gap > b->reanchor_ns || gap < -b->reanchor_ns) {
        b->offset_ns = wrapping_add(b->offset_ns, gap);
        p->reanchored = 1;
        b->reanchored++;
    } else {
        return;
    }
    const int64_t step = wrapping_sub(b->offset_ns, before);
    shift_times(cd, n_cd, EVT3_CD_RECORD, 4, step);
    shift_times(triggers, n_trigger, EVT3_TRIGGER_RECORD, 0, step);
}

static void check_order(evt3_batch *b, evt3_packet *p) {
    const evt3_job *job = b->job;
    const uint8_t *at = job->cd + EVT3_CD_RECORD * b->cd_start + 4;
    int64_t previous = INT64_MIN, k, sorted = 1;
    for (k = b->cd_start; k < job->cd_count; k++, at += EVT3_CD_RECORD) {
        const int64_t t = read_time(at);
        sorted &= t >= previous;
        previous = t;
    }
    p->sorted = sorted;
    p->in_order = sorted;
    if (job->cd_count > b->cd_start) {
        p->in_order &= !b->has_last || read_time(job->cd + EVT3_CD_RECORD * b->cd_start + 4) >= b->last_t;
        b->has_last = 1;
        b->last_t = previous;
    }
    b->out_of_order += !p->in_order;
}

/* Decodes packets b->next.. of the batch; returns EVT3_DONE or EVT3_NEED_*_ROOM. */
int hpe_evt3_decode_batch(evt3_batch *b) {
    evt3_job *job = b->job;
    while (b->next < b->n_packets) {
        evt3_packet *p = b->packets + b->next;
        if (!b->started) {
            p->reserved_word = -1;
            p->reanchored = 0;
            p->in_order = p->sorted = 1;
            p->cd_total = 0;
            if (p->n_words < 0) {
                if (p->n_words == EVT3_REFUSED_RESYNC) job->state = resynced(job->state);
                p->cd_end = job->cd_count;
                p->trigger_end = job->trigger_count;
                b->next++;
                continue;
            }
            b->saved = job->state;
            b->cd_start = job->cd_count;
            b->trigger_start = job->trigger_count;
            b->total_start = job->cd_total;
            job->raw = b->raw + p->byte_offset;
            job->n_words = p->n_words;
            job->position = 0;
            job->big_endian = p->big_endian;
            job->width = p->width;
            job->height = p->height;
            job->t_offset_ns = b->ros_time && b->offset_known ? b->offset_ns : 0;
            b->started = 1;
        }
        const int status = hpe_evt3_decode(job);
        if (status == EVT3_NEED_CD_ROOM || status == EVT3_NEED_TRIGGER_ROOM) return status;
        b->started = 0;
        if (status == EVT3_RESERVED_WORD) {
            p->reserved_word = job->position;
            job->state = resynced(b->saved);
            job->cd_count = b->cd_start;
            job->trigger_count = b->trigger_start;
            job->cd_total = b->total_start;
            b->reserved++;
        } else {
            if (b->ros_time) anchor(b, p);
            check_order(b, p);
            b->decoded++;
        }
        p->cd_end = job->cd_count;
        p->trigger_end = job->trigger_count;
        p->cd_total = job->cd_total - b->total_start;
        b->dropped += p->cd_total - (p->cd_end - b->cd_start);
        b->next++;
    }
    return EVT3_DONE;
}

/* Sizes the Python side checks before it trusts this library. */
int64_t hpe_evt3_abi(int64_t what) {
    switch (what) {
    case 0: return (int64_t)sizeof(evt3_job);
    case 1: return (int64_t)sizeof(evt3_state);
    case 2: return EVT3_CD_RECORD;
    case 3: return EVT3_TRIGGER_RECORD;
    case 4: return (int64_t)sizeof(evt3_packet);
    case 5: return (int64_t)sizeof(evt3_batch);
    default: return -1;
    }
}
