/*
 * hailort_standin.c - a test double of libhailort (HailoRT 4.x C API) for feagi_hailo_ros.
 *
 * No Hailo device or real libhailort exists on the development machines, so the ctypes binding in
 * feagi_hailo_ros/hailo is tested against this library instead. It exports the subset of the C ABI
 * the binding calls, with HailoRT's struct layouts for the version it reports, and it executes a
 * small test-only "HEF" format (see hef_format.py next to this file): 0/1 dense matrices and 0/1
 * convolution kernels applied to uint8 inputs, giving exact integer counts.
 *
 * Layouts, enum values and status codes were read from hailort/libhailort/include/hailo/hailort.h
 * of hailo-ai/hailort at v4.18.0 (01e4c7f5), v4.19.0 (3d673252), v4.20.0 (f4c45c48) and v4.21.0
 * (0df636dc); every declaration below is written from those facts, not copied.
 *
 * Build (tests do this through build.py):
 *   cc -shared -fPIC -O2 -DSTANDIN_VERSION_MAJOR=4 -DSTANDIN_VERSION_MINOR=23 \
 *      -o libhailort.so.4.23.0 hailort_standin.c -lpthread
 *
 * Behaviour that the tests rely on:
 *   - Device scan: one device "0000:01:00.0" unless HAILORT_STANDIN_NO_DEVICE=1 (zero devices) or
 *     HAILORT_STANDIN_DEVICES="id,id,..." is set. Read at every scan and vdevice creation.
 *   - hailo_create_vdevice with no device: HAILO_OUT_OF_PHYSICAL_DEVICES (74).
 *   - A physical device serves one vdevice at a time, as in libhailort (vdevice.cpp marks it used):
 *     a vdevice takes the devices its params name (device_ids), or else the first `device_count`
 *     free ones; a named device that is in use, or too few free ones, gives
 *     HAILO_OUT_OF_PHYSICAL_DEVICES (74), a named device that does not exist HAILO_INVALID_ARGUMENT.
 *     Releasing the vdevice frees its devices.
 *   - Devices listed in HAILORT_STANDIN_HAILO8L="id,..." are Hailo-8L; every stand-in HEF counts
 *     as compiled for Hailo-8, so configuring it on a vdevice holding a Hailo-8L fails as a real
 *     4.x does: HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE (93) from 4.21 on, HAILO_INVALID_HEF (26)
 *     earlier (device_internal.cpp, check_hef_is_compatible).
 *   - At most 32 network groups (core ops) are configured on one vdevice, as on a real device
 *     (CONTROL_PROTOCOL__MAX_CONTEXT_SWITCH_APPLICATIONS, vdma_device.cpp): one more gives
 *     HAILO_INVALID_OPERATION (6). The C API has no call releasing a configured network group:
 *     they live until their vdevice is released.
 *   - Missing HEF file: HAILO_OPEN_FILE_FAILURE (13); an empty file or a directory:
 *     HAILO_FILE_OPERATION_FAILURE (14), as a real 4.23 answers. Bad magic: HAILO_HEF_NOT_SUPPORTED
 *     (92) from 4.21 on (the code does not exist before), HAILO_INVALID_HEF (26) earlier. Truncated
 *     or inconsistent content: HAILO_HEF_FILE_CORRUPTED (91) from 4.21 on, HAILO_INVALID_HEF earlier.
 *   - hailo_create_hef_buffer with a size of 0 crashes a real 4.23 (DESIGN section 6); here it is
 *     counted as misuse (standin_misuse_count) and answered with HAILO_INVALID_ARGUMENT, so a test
 *     sees a binding that lets an empty buffer through.
 *   - Vstreams are named as Hailo's compiler names them, `<network group>/<layer>` (the HEF
 *     writer, hef_format.py, gives those names), and each carries the names the model had before
 *     compiling (its ONNX nodes), answered by hailo_hef_get_original_names_from_vstream_name with
 *     the real library's statuses: HAILO_NOT_FOUND (61) for an unknown group or vstream,
 *     HAILO_INSUFFICIENT_BUFFER (5) with the needed count for a short array.
 *   - Log file: when HAILORT_LOGGER_PATH names a directory at load time (read once, in a library
 *     constructor, as the real logger reads it once), a line per load and per failed HEF load is
 *     appended to <dir>/hailort.log; standin_logger_path() returns the directory read. (A real
 *     library writes ./hailort.log when the variable is unset; the stand-in writes nothing then,
 *     so test runs leave no files behind.)
 *   - hailo_activate_network_group under the scheduler (the default): HAILO_INVALID_OPERATION (6).
 *   - A network group can be told by the HEF to fail: after `fail_after` complete bursts the next
 *     write returns `fail_status`, and reads return it once the already computed frames are drained.
 *   - Reads block until a frame is ready or the vstream's timeout_ms passes (HAILO_TIMEOUT, 4);
 *     writes block while the 8-frame queue is full. Calls are thread-safe per network group.
 *   - Released objects are never freed (only their buffers), so a call with a released handle is
 *     detected, counted in standin_misuse_count() and answered with HAILO_INVALID_ARGUMENT.
 *     Releasing a vdevice while vstreams of it are alive is counted in standin_order_violations().
 *   - standin_compute_ns() / standin_compute_count(): time spent in, and number of, output
 *     computations (for benchmarks that report the host path without the stand-in's arithmetic).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef STANDIN_VERSION_MAJOR
#define STANDIN_VERSION_MAJOR 4
#endif
#ifndef STANDIN_VERSION_MINOR
#define STANDIN_VERSION_MINOR 23
#endif
#ifndef STANDIN_VERSION_REVISION
#define STANDIN_VERSION_REVISION 0
#endif

#define AT_LEAST(maj, min)                                                                          \
    (STANDIN_VERSION_MAJOR > (maj) || (STANDIN_VERSION_MAJOR == (maj) && STANDIN_VERSION_MINOR >= (min)))

#define EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------------------------------------------------------
 * Public ABI: constants, enums and structs with HailoRT's layouts.
 * Enums are declared with an INT_MAX member like the real header does, so they are 4-byte ints.
 * --------------------------------------------------------------------------------------------- */

#define HAILO_MAX_NAME_SIZE 128
#define HAILO_MAX_STREAM_NAME_SIZE HAILO_MAX_NAME_SIZE
#define HAILO_MAX_NETWORK_GROUP_NAME_SIZE HAILO_MAX_NAME_SIZE
#define HAILO_MAX_NETWORK_NAME_SIZE (HAILO_MAX_NETWORK_GROUP_NAME_SIZE + 1 + HAILO_MAX_NAME_SIZE)
#define HAILO_MAX_DEVICE_ID_LENGTH 32
#define HAILO_MAX_STREAMS_COUNT 40
#define HAILO_MAX_NETWORK_GROUPS 8
#define HAILO_MAX_NETWORKS_IN_NETWORK_GROUP 8
#define HAILO_DEFAULT_VSTREAM_QUEUE_SIZE 2
#define HAILO_DEFAULT_VSTREAM_TIMEOUT_MS 10000
#define HAILO_DEFAULT_DEVICE_COUNT 1

typedef float float32_t;

typedef enum {
    HAILO_SUCCESS = 0,
    HAILO_INVALID_ARGUMENT = 2,
    HAILO_OUT_OF_HOST_MEMORY = 3,
    HAILO_TIMEOUT = 4,
    HAILO_INSUFFICIENT_BUFFER = 5,
    HAILO_INVALID_OPERATION = 6,
    HAILO_OPEN_FILE_FAILURE = 13,
    HAILO_FILE_OPERATION_FAILURE = 14,
    HAILO_INVALID_HEF = 26,
    HAILO_NOT_FOUND = 61,
    HAILO_STREAM_ABORT = 63,
    HAILO_OUT_OF_PHYSICAL_DEVICES = 74,
    HAILO_NOT_SUPPORTED = 79,
    HAILO_HEF_FILE_CORRUPTED = 91, /* exists from 4.21 */
    HAILO_HEF_NOT_SUPPORTED = 92,  /* exists from 4.21 */
    HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE = 93,  /* exists from 4.21 */
    HAILO_STATUS_MAX_ENUM = INT_MAX
} hailo_status;

typedef struct {
    uint32_t major;
    uint32_t minor;
    uint32_t revision;
} hailo_version_t;

typedef struct {
    char id[HAILO_MAX_DEVICE_ID_LENGTH];
} hailo_device_id_t;

typedef enum {
    HAILO_SCHEDULING_ALGORITHM_NONE = 0,
    HAILO_SCHEDULING_ALGORITHM_ROUND_ROBIN = 1,
    HAILO_SCHEDULING_ALGORITHM_MAX_ENUM = INT_MAX
} hailo_scheduling_algorithm_t;

typedef struct {
    uint32_t device_count;
    hailo_device_id_t *device_ids;
    hailo_scheduling_algorithm_t scheduling_algorithm;
    const char *group_id;
    bool multi_process_service;
} hailo_vdevice_params_t;

typedef enum {
    HAILO_FORMAT_TYPE_AUTO = 0,
    HAILO_FORMAT_TYPE_UINT8 = 1,
    HAILO_FORMAT_TYPE_UINT16 = 2,
    HAILO_FORMAT_TYPE_FLOAT32 = 3,
    HAILO_FORMAT_TYPE_MAX_ENUM = INT_MAX
} hailo_format_type_t;

typedef enum {
    HAILO_FORMAT_ORDER_AUTO = 0,
    HAILO_FORMAT_ORDER_NHWC = 1,
    HAILO_FORMAT_ORDER_NC = 6,
    HAILO_FORMAT_ORDER_MAX_ENUM = INT_MAX
} hailo_format_order_t;

typedef enum { HAILO_FORMAT_FLAGS_NONE = 0, HAILO_FORMAT_FLAGS_MAX_ENUM = INT_MAX } hailo_format_flags_t;

typedef struct {
    hailo_format_type_t type;
    hailo_format_order_t order;
    hailo_format_flags_t flags;
} hailo_format_t;

typedef enum { HAILO_H2D_STREAM = 0, HAILO_D2H_STREAM = 1, HAILO_STREAM_DIRECTION_MAX_ENUM = INT_MAX } hailo_stream_direction_t;
typedef enum { HAILO_STREAM_FLAGS_NONE = 0, HAILO_STREAM_FLAGS_MAX_ENUM = INT_MAX } hailo_stream_flags_t;

typedef struct {
    float32_t qp_zp;
    float32_t qp_scale;
    float32_t limvals_min;
    float32_t limvals_max;
} hailo_quant_info_t;

typedef struct {
    uint32_t height;
    uint32_t width;
    uint32_t features;
} hailo_3d_image_shape_t;

/* 4.20 added a fourth 32-bit member to hailo_nms_shape_t (4.20: an order_type enum after a union;
 * 4.21: max_bboxes_total). Only the size matters here: it shifts quant_info in hailo_vstream_info_t. */
typedef struct {
    uint32_t number_of_classes;
    uint32_t max_bboxes_per_class;
#if AT_LEAST(4, 20)
    uint32_t max_bboxes_total;
#endif
    uint32_t max_accumulated_mask_size;
} hailo_nms_shape_t;

typedef struct {
    char name[HAILO_MAX_STREAM_NAME_SIZE];
    char network_name[HAILO_MAX_NETWORK_NAME_SIZE];
    hailo_stream_direction_t direction;
    hailo_format_t format;
    union {
        hailo_3d_image_shape_t shape;
        hailo_nms_shape_t nms_shape;
    };
    hailo_quant_info_t quant_info;
} hailo_vstream_info_t;

typedef enum { HAILO_VSTREAM_STATS_NONE = 0, HAILO_VSTREAM_STATS_MAX_ENUM = INT_MAX } hailo_vstream_stats_flags_t;
typedef enum { HAILO_PIPELINE_ELEM_STATS_NONE = 0, HAILO_PIPELINE_ELEM_STATS_MAX_ENUM = INT_MAX } hailo_pipeline_elem_stats_flags_t;

typedef struct {
    hailo_format_t user_buffer_format;
    uint32_t timeout_ms;
    uint32_t queue_size;
    hailo_vstream_stats_flags_t vstream_stats_flags;
    hailo_pipeline_elem_stats_flags_t pipeline_elements_stats_flags;
} hailo_vstream_params_t;

typedef struct {
    char name[HAILO_MAX_STREAM_NAME_SIZE];
    hailo_vstream_params_t params;
} hailo_input_vstream_params_by_name_t;

typedef struct {
    char name[HAILO_MAX_STREAM_NAME_SIZE];
    hailo_vstream_params_t params;
} hailo_output_vstream_params_by_name_t;

typedef struct {
    char name[HAILO_MAX_NETWORK_GROUP_NAME_SIZE];
    bool is_multi_context;
} hailo_network_group_info_t;

typedef struct {
    char name[HAILO_MAX_STREAM_NAME_SIZE];
} hailo_layer_name_t;

/* --- configure params: only their size and a few offsets matter to the binding ------------- */

typedef struct {
    struct sockaddr_in host_address;
    in_port_t device_port;
    bool is_sync_enabled;
    uint32_t frames_per_sync;
    uint16_t max_payload_size;
    uint32_t rate_limit_bytes_per_sec;
    uint32_t buffers_threshold;
} hailo_eth_input_stream_params_t;

typedef struct {
    struct sockaddr_in host_address;
    in_port_t device_port;
    bool is_sync_enabled;
    uint16_t max_payload_size;
    uint32_t buffers_threshold;
} hailo_eth_output_stream_params_t;

typedef struct {
    uint8_t reserved; /* EMPTY_STRUCT_PLACEHOLDER in platform.h */
} hailo_empty_stream_params_t;

typedef struct {
    uint16_t img_width_pixels;
    uint16_t img_height_pixels;
    int32_t pixels_per_clock; /* enum */
    uint8_t number_of_lanes;
    int32_t clock_selection; /* enum */
    uint8_t virtual_channel_index;
    uint32_t data_rate;
} hailo_mipi_common_params_t;

typedef struct {
    int32_t isp_img_in_order;      /* enum */
    int32_t isp_img_out_data_type; /* enum */
    bool isp_crop_enable;
    uint16_t isp_crop_output_width_pixels;
    uint16_t isp_crop_output_height_pixels;
    uint16_t isp_crop_output_width_start_offset_pixels;
    uint16_t isp_crop_output_height_start_offset_pixels;
    bool isp_test_pattern_enable;
    bool isp_configuration_bypass;
    bool isp_run_time_ae_enable;
    bool isp_run_time_awb_enable;
    bool isp_run_time_adt_enable;
    bool isp_run_time_af_enable;
    uint16_t isp_run_time_calculations_interval_ms;
    int32_t isp_light_frequency; /* enum */
} hailo_isp_params_t;

typedef struct {
    hailo_mipi_common_params_t mipi_common_params;
    uint8_t mipi_rx_id;
    int32_t data_type; /* enum */
    bool isp_enable;
    hailo_isp_params_t isp_params;
} hailo_mipi_input_stream_params_t;

typedef enum {
    HAILO_STREAM_INTERFACE_PCIE = 0,
    HAILO_STREAM_INTERFACE_MAX_ENUM = INT_MAX
} hailo_stream_interface_t;

typedef struct {
    hailo_stream_interface_t stream_interface;
    hailo_stream_direction_t direction;
    hailo_stream_flags_t flags;
    union {
        hailo_empty_stream_params_t pcie_input_params;
        hailo_empty_stream_params_t integrated_input_params;
        hailo_eth_input_stream_params_t eth_input_params;
        hailo_mipi_input_stream_params_t mipi_input_params;
        hailo_empty_stream_params_t pcie_output_params;
        hailo_empty_stream_params_t integrated_output_params;
        hailo_eth_output_stream_params_t eth_output_params;
    };
} hailo_stream_parameters_t;

typedef struct {
    char name[HAILO_MAX_STREAM_NAME_SIZE];
    hailo_stream_parameters_t stream_params;
} hailo_stream_parameters_by_name_t;

typedef struct {
    uint16_t batch_size;
} hailo_network_parameters_t;

typedef struct {
    char name[HAILO_MAX_NETWORK_NAME_SIZE];
    hailo_network_parameters_t network_params;
} hailo_network_parameters_by_name_t;

typedef struct {
    char name[HAILO_MAX_NETWORK_GROUP_NAME_SIZE];
    uint16_t batch_size;
    int32_t power_mode; /* enum */
    int32_t latency;    /* enum */
    size_t stream_params_by_name_count;
    hailo_stream_parameters_by_name_t stream_params_by_name[HAILO_MAX_STREAMS_COUNT];
    size_t network_params_by_name_count;
    hailo_network_parameters_by_name_t network_params_by_name[HAILO_MAX_NETWORKS_IN_NETWORK_GROUP];
} hailo_configure_network_group_params_t;

typedef struct {
    size_t network_group_params_count;
    hailo_configure_network_group_params_t network_group_params[HAILO_MAX_NETWORK_GROUPS];
} hailo_configure_params_t;

typedef struct {
    uint8_t reserved;
} hailo_activate_network_group_params_t;

/* ------------------------------------------------------------------------------------------------
 * Internal model of a parsed stand-in HEF
 * --------------------------------------------------------------------------------------------- */

#define MAGIC_HEF 0x48454631u
#define MAGIC_VDEVICE 0x56444556u
#define MAGIC_NG 0x4e475250u
#define MAGIC_VSTREAM 0x56535452u
#define QUEUE_CAPACITY 8
#define MODEL_DENSE 1u
#define MODEL_CONV 2u

#define MAX_ORIGINAL_NAMES 8

typedef struct {
    char name[HAILO_MAX_STREAM_NAME_SIZE];
    uint32_t n_original; /* names of the model before compiling (hef format 2) */
    char original[MAX_ORIGINAL_NAMES][HAILO_MAX_STREAM_NAME_SIZE];
    uint32_t h, w, c;
    uint32_t order;
    float qp_scale, qp_zp;
    uint32_t native_type; /* UINT8 or UINT16 */
    /* outputs only */
    uint32_t input_index;
    uint32_t kind;
    uint32_t rows, cols;           /* dense: y[rows] = A[rows][cols] . x[cols] */
    uint32_t kh, kw, cin, cout;    /* conv: same padding, stride 1, channels last */
    uint8_t *weights;
} io_desc_t;

typedef struct {
    char name[HAILO_MAX_NETWORK_GROUP_NAME_SIZE];
    uint32_t fail_after;
    uint32_t fail_status;
    uint32_t n_in, n_out;
    io_desc_t *in;
    io_desc_t *out;
} ng_desc_t;

typedef struct {
    int refcount; /* guarded by g_mu */
    uint32_t n_ng;
    ng_desc_t *ngs;
} hef_data_t;

typedef struct {
    uint32_t magic;
    int alive;
    hef_data_t *data;
} standin_hef_t;

struct standin_vdevice;

typedef struct {
    uint32_t magic;
    int alive;
    struct standin_vdevice *owner;
    hef_data_t *data;
    const ng_desc_t *d;
    int live_vstreams; /* guarded by g_mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t **in_q;     /* [n_in][QUEUE_CAPACITY * elems], device-side uint8 values */
    int *in_head, *in_count;
    uint32_t **out_q;   /* [n_out][QUEUE_CAPACITY * elems], counts clipped to the native type */
    int *out_head, *out_count;
    uint64_t bursts_done;
    int failed;
} standin_ng_t;

#define STANDIN_MAX_DEVICES 16
#define STANDIN_MAX_CORE_OPS 32

typedef struct standin_vdevice {
    uint32_t magic;
    int alive;
    hailo_scheduling_algorithm_t scheduling;
    char devices[STANDIN_MAX_DEVICES][HAILO_MAX_DEVICE_ID_LENGTH]; /* ids of the devices held */
    size_t n_devices;
    int hailo8l; /* holds a Hailo-8L (HAILORT_STANDIN_HAILO8L) */
    standin_ng_t **ngs;
    size_t n_ngs;
} standin_vdevice_t;

typedef struct {
    uint32_t magic;
    int alive;
    int is_input;
    uint32_t index;
    standin_ng_t *ng;
    hailo_format_t user_format;
    uint32_t timeout_ms;
} standin_vstream_t;

/* ------------------------------------------------------------------------------------------------
 * Global bookkeeping for the tests
 * --------------------------------------------------------------------------------------------- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static long g_live;
static long g_misuse;
static long g_order_violations;
static char g_log[16384];
static size_t g_log_len;

static void log_event(const char *what, const char *name) {
    /* caller holds g_mu */
    int n = snprintf(g_log + g_log_len, sizeof(g_log) - g_log_len, "%s%s%s;", what, name ? ":" : "",
                     name ? name : "");
    if (n > 0 && g_log_len + (size_t)n < sizeof(g_log)) {
        g_log_len += (size_t)n;
    }
}

/* HAILORT_LOGGER_PATH as read when the library was loaded ("" when unset, empty or NONE). */
static char g_logger_dir[4096];

static void read_logger_path(void) {
    const char *dir = getenv("HAILORT_LOGGER_PATH");
    if (dir && dir[0] && strcmp(dir, "NONE") != 0) {
        snprintf(g_logger_dir, sizeof(g_logger_dir), "%s", dir);
    }
}

/* Appends one line to <HAILORT_LOGGER_PATH>/hailort.log (nothing when the variable was unset). */
static void log_file(const char *level, const char *what, const char *detail) {
    if (!g_logger_dir[0]) return;
    char path[4200];
    snprintf(path, sizeof(path), "%s/hailort.log", g_logger_dir);
    FILE *f = fopen(path, "a");
    if (!f) return;
    fprintf(f, "[hailort] [%s] %s%s%s\n", level, what, detail ? ": " : "", detail ? detail : "");
    fclose(f);
}

__attribute__((constructor)) static void log_load(void) {
    read_logger_path();
    log_file("info", "libhailort stand-in loaded", NULL);
}

EXPORT const char *standin_logger_path(void) { return g_logger_dir; }

static hailo_status misuse(void) {
    pthread_mutex_lock(&g_mu);
    g_misuse++;
    pthread_mutex_unlock(&g_mu);
    return HAILO_INVALID_ARGUMENT;
}

EXPORT long standin_live_objects(void) {
    pthread_mutex_lock(&g_mu);
    long v = g_live;
    pthread_mutex_unlock(&g_mu);
    return v;
}

EXPORT long standin_misuse_count(void) {
    pthread_mutex_lock(&g_mu);
    long v = g_misuse;
    pthread_mutex_unlock(&g_mu);
    return v;
}

EXPORT long standin_order_violations(void) {
    pthread_mutex_lock(&g_mu);
    long v = g_order_violations;
    pthread_mutex_unlock(&g_mu);
    return v;
}

EXPORT size_t standin_event_log(char *buf, size_t len) {
    pthread_mutex_lock(&g_mu);
    size_t n = g_log_len;
    if (buf && len) {
        size_t c = n < len - 1 ? n : len - 1;
        memcpy(buf, g_log, c);
        buf[c] = '\0';
    }
    pthread_mutex_unlock(&g_mu);
    return n;
}

/* Nanoseconds spent computing outputs (compute_output) since the library was loaded, and how many
 * outputs were computed: lets a benchmark separate the stand-in's own arithmetic from the host
 * path around it. Pure observation; updated with atomics because groups compute concurrently. */
static uint64_t g_compute_ns;
static uint64_t g_compute_count;

EXPORT uint64_t standin_compute_ns(void) { return __atomic_load_n(&g_compute_ns, __ATOMIC_RELAXED); }

EXPORT uint64_t standin_compute_count(void) {
    return __atomic_load_n(&g_compute_count, __ATOMIC_RELAXED);
}

EXPORT void standin_clear_event_log(void) {
    pthread_mutex_lock(&g_mu);
    g_log_len = 0;
    g_log[0] = '\0';
    pthread_mutex_unlock(&g_mu);
}

/* sizeof / offsetof for the structs above, so tests can compare them with the ctypes declarations
 * and with DESIGN section 6. `field` NULL or "" gives sizeof; unknown names give -1. */
EXPORT long standin_layout(const char *type, const char *field) {
    int want_size = (field == NULL || field[0] == '\0');
#define STRUCT(T)                                                                                  \
    if (strcmp(type, #T) == 0) {                                                                   \
        if (want_size) return (long)sizeof(T);
#define FIELD(T, f)                                                                                \
        if (strcmp(field, #f) == 0) return (long)offsetof(T, f);
#define END_STRUCT                                                                                 \
        return -1;                                                                                 \
    }
    STRUCT(hailo_version_t) FIELD(hailo_version_t, minor) FIELD(hailo_version_t, revision) END_STRUCT
    STRUCT(hailo_device_id_t) END_STRUCT
    STRUCT(hailo_vdevice_params_t)
        FIELD(hailo_vdevice_params_t, device_count) FIELD(hailo_vdevice_params_t, device_ids)
        FIELD(hailo_vdevice_params_t, scheduling_algorithm) FIELD(hailo_vdevice_params_t, group_id)
        FIELD(hailo_vdevice_params_t, multi_process_service)
    END_STRUCT
    STRUCT(hailo_format_t) FIELD(hailo_format_t, order) FIELD(hailo_format_t, flags) END_STRUCT
    STRUCT(hailo_quant_info_t)
        FIELD(hailo_quant_info_t, qp_zp) FIELD(hailo_quant_info_t, qp_scale)
        FIELD(hailo_quant_info_t, limvals_min) FIELD(hailo_quant_info_t, limvals_max)
    END_STRUCT
    STRUCT(hailo_3d_image_shape_t) END_STRUCT
    STRUCT(hailo_nms_shape_t) END_STRUCT
    STRUCT(hailo_vstream_info_t)
        FIELD(hailo_vstream_info_t, name) FIELD(hailo_vstream_info_t, network_name)
        FIELD(hailo_vstream_info_t, direction) FIELD(hailo_vstream_info_t, format)
        FIELD(hailo_vstream_info_t, format.type) FIELD(hailo_vstream_info_t, format.order)
        FIELD(hailo_vstream_info_t, shape) FIELD(hailo_vstream_info_t, shape.features)
        FIELD(hailo_vstream_info_t, nms_shape) FIELD(hailo_vstream_info_t, quant_info)
        FIELD(hailo_vstream_info_t, quant_info.qp_scale)
    END_STRUCT
    STRUCT(hailo_vstream_params_t)
        FIELD(hailo_vstream_params_t, user_buffer_format) FIELD(hailo_vstream_params_t, timeout_ms)
        FIELD(hailo_vstream_params_t, queue_size) FIELD(hailo_vstream_params_t, vstream_stats_flags)
        FIELD(hailo_vstream_params_t, pipeline_elements_stats_flags)
    END_STRUCT
    STRUCT(hailo_input_vstream_params_by_name_t)
        FIELD(hailo_input_vstream_params_by_name_t, params)
        FIELD(hailo_input_vstream_params_by_name_t, params.user_buffer_format.type)
        FIELD(hailo_input_vstream_params_by_name_t, params.timeout_ms)
        FIELD(hailo_input_vstream_params_by_name_t, params.queue_size)
    END_STRUCT
    STRUCT(hailo_output_vstream_params_by_name_t)
        FIELD(hailo_output_vstream_params_by_name_t, params)
        FIELD(hailo_output_vstream_params_by_name_t, params.user_buffer_format.type)
    END_STRUCT
    STRUCT(hailo_network_group_info_t) FIELD(hailo_network_group_info_t, is_multi_context) END_STRUCT
    STRUCT(hailo_layer_name_t) END_STRUCT
    STRUCT(hailo_eth_input_stream_params_t) END_STRUCT
    STRUCT(hailo_mipi_input_stream_params_t) FIELD(hailo_mipi_input_stream_params_t, isp_params) END_STRUCT
    STRUCT(hailo_stream_parameters_t) FIELD(hailo_stream_parameters_t, eth_input_params) END_STRUCT
    STRUCT(hailo_stream_parameters_by_name_t) END_STRUCT
    STRUCT(hailo_network_parameters_by_name_t) FIELD(hailo_network_parameters_by_name_t, network_params) END_STRUCT
    STRUCT(hailo_configure_network_group_params_t)
        FIELD(hailo_configure_network_group_params_t, batch_size)
        FIELD(hailo_configure_network_group_params_t, power_mode)
        FIELD(hailo_configure_network_group_params_t, stream_params_by_name_count)
        FIELD(hailo_configure_network_group_params_t, stream_params_by_name)
        FIELD(hailo_configure_network_group_params_t, network_params_by_name_count)
        FIELD(hailo_configure_network_group_params_t, network_params_by_name)
    END_STRUCT
    STRUCT(hailo_configure_params_t) FIELD(hailo_configure_params_t, network_group_params) END_STRUCT
#undef STRUCT
#undef FIELD
#undef END_STRUCT
    return -1;
}

/* ------------------------------------------------------------------------------------------------
 * Devices
 * --------------------------------------------------------------------------------------------- */

/* Fills up to `cap` ids from the environment; returns how many devices exist. */
static size_t list_devices(hailo_device_id_t *ids, size_t cap) {
    const char *none = getenv("HAILORT_STANDIN_NO_DEVICE");
    if (none && none[0] && strcmp(none, "0") != 0) {
        return 0;
    }
    const char *spec = getenv("HAILORT_STANDIN_DEVICES");
    if (!spec || !spec[0]) {
        spec = "0000:01:00.0";
    }
    size_t n = 0;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            if (ids && n < cap) {
                size_t c = len < HAILO_MAX_DEVICE_ID_LENGTH - 1 ? len : HAILO_MAX_DEVICE_ID_LENGTH - 1;
                memset(ids[n].id, 0, sizeof(ids[n].id));
                memcpy(ids[n].id, p, c);
            }
            n++;
        }
        if (!end) break;
        p = end + 1;
    }
    return n;
}

EXPORT hailo_status hailo_get_library_version(hailo_version_t *version) {
    if (!version) return HAILO_INVALID_ARGUMENT;
    version->major = STANDIN_VERSION_MAJOR;
    version->minor = STANDIN_VERSION_MINOR;
    version->revision = STANDIN_VERSION_REVISION;
    return HAILO_SUCCESS;
}

EXPORT hailo_status hailo_scan_devices(void *params, hailo_device_id_t *device_ids, size_t *device_ids_length) {
    if (params != NULL || !device_ids_length) return HAILO_INVALID_ARGUMENT;
    size_t cap = *device_ids_length;
    size_t n = list_devices(device_ids, cap);
    *device_ids_length = n;
    return n > cap ? HAILO_INSUFFICIENT_BUFFER : HAILO_SUCCESS;
}

EXPORT hailo_status hailo_init_vdevice_params(hailo_vdevice_params_t *params) {
    if (!params) return HAILO_INVALID_ARGUMENT;
    memset(params, 0, sizeof(*params));
    params->device_count = HAILO_DEFAULT_DEVICE_COUNT;
    params->device_ids = NULL;
    params->scheduling_algorithm = HAILO_SCHEDULING_ALGORITHM_ROUND_ROBIN;
    params->group_id = "UNIQUE";
    params->multi_process_service = false;
    return HAILO_SUCCESS;
}

/* Ids of the devices held by live vdevices; guarded by g_mu. */
static char g_used[STANDIN_MAX_DEVICES][HAILO_MAX_DEVICE_ID_LENGTH];
static size_t g_n_used;

static int device_in_use(const char *id) {
    /* caller holds g_mu */
    for (size_t i = 0; i < g_n_used; i++) {
        if (strncmp(g_used[i], id, HAILO_MAX_DEVICE_ID_LENGTH) == 0) return 1;
    }
    return 0;
}

/* Whether `id` is listed in the comma-separated environment variable `var`. */
static int id_listed(const char *var, const char *id) {
    const char *spec = getenv(var);
    if (!spec) return 0;
    size_t n = strnlen(id, HAILO_MAX_DEVICE_ID_LENGTH);
    for (const char *p = spec; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, id, n) == 0) return 1;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

EXPORT hailo_status hailo_create_vdevice(hailo_vdevice_params_t *params, standin_vdevice_t **vdevice) {
    if (!vdevice) return HAILO_INVALID_ARGUMENT;
    hailo_vdevice_params_t defaults;
    if (!params) {
        hailo_init_vdevice_params(&defaults);
        params = &defaults;
    }
    hailo_device_id_t present[STANDIN_MAX_DEVICES];
    size_t available = list_devices(present, STANDIN_MAX_DEVICES);
    if (available > STANDIN_MAX_DEVICES) available = STANDIN_MAX_DEVICES;
    if (params->device_count == 0 || params->device_count > STANDIN_MAX_DEVICES) {
        return HAILO_OUT_OF_PHYSICAL_DEVICES;
    }
    const char *take[STANDIN_MAX_DEVICES];
    size_t n_take = 0;
    pthread_mutex_lock(&g_mu);
    if (params->device_ids) {
        for (uint32_t i = 0; i < params->device_count; i++) {
            const char *want = params->device_ids[i].id;
            int exists = 0;
            for (size_t d = 0; d < available; d++) {
                if (strncmp(present[d].id, want, HAILO_MAX_DEVICE_ID_LENGTH) == 0) exists = 1;
            }
            if (!exists) {
                pthread_mutex_unlock(&g_mu);
                return HAILO_INVALID_ARGUMENT;
            }
            if (device_in_use(want)) {
                pthread_mutex_unlock(&g_mu);
                return HAILO_OUT_OF_PHYSICAL_DEVICES;
            }
            take[n_take++] = want;
        }
    } else {
        for (size_t d = 0; d < available && n_take < params->device_count; d++) {
            if (!device_in_use(present[d].id)) take[n_take++] = present[d].id;
        }
        if (n_take < params->device_count) {
            pthread_mutex_unlock(&g_mu);
            return HAILO_OUT_OF_PHYSICAL_DEVICES;
        }
    }
    standin_vdevice_t *v = calloc(1, sizeof(*v));
    if (!v) {
        pthread_mutex_unlock(&g_mu);
        return HAILO_OUT_OF_HOST_MEMORY;
    }
    v->magic = MAGIC_VDEVICE;
    v->alive = 1;
    v->scheduling = params->scheduling_algorithm;
    for (size_t i = 0; i < n_take; i++) {
        snprintf(v->devices[i], HAILO_MAX_DEVICE_ID_LENGTH, "%s", take[i]);
        snprintf(g_used[g_n_used++], HAILO_MAX_DEVICE_ID_LENGTH, "%s", take[i]);
        if (id_listed("HAILORT_STANDIN_HAILO8L", take[i])) v->hailo8l = 1;
    }
    v->n_devices = n_take;
    g_live++;
    log_event("create_vdevice", NULL);
    pthread_mutex_unlock(&g_mu);
    *vdevice = v;
    return HAILO_SUCCESS;
}

static int vdevice_ok(const standin_vdevice_t *v) { return v && v->magic == MAGIC_VDEVICE && v->alive; }
static int hef_ok(const standin_hef_t *h) { return h && h->magic == MAGIC_HEF && h->alive; }
static int ng_ok(const standin_ng_t *g) { return g && g->magic == MAGIC_NG && g->alive; }
static int vstream_ok(const standin_vstream_t *s) { return s && s->magic == MAGIC_VSTREAM && s->alive; }

static void hef_data_unref(hef_data_t *data);

/* Frees a network group's buffers and wakes its waiters; caller holds g_mu. */
static void ng_kill(standin_ng_t *g) {
    pthread_mutex_lock(&g->mu);
    g->alive = 0;
    for (uint32_t i = 0; i < g->d->n_in; i++) free(g->in_q[i]);
    for (uint32_t o = 0; o < g->d->n_out; o++) free(g->out_q[o]);
    free(g->in_q);
    free(g->out_q);
    free(g->in_head);
    free(g->in_count);
    free(g->out_head);
    free(g->out_count);
    g->in_q = NULL;
    g->out_q = NULL;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (g->live_vstreams > 0) {
        g_order_violations++;
    }
    hef_data_unref(g->data);
    g->data = NULL;
    g_live--;
}

EXPORT hailo_status hailo_release_vdevice(standin_vdevice_t *v) {
    if (!vdevice_ok(v)) return misuse();
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < v->n_ngs; i++) {
        ng_kill(v->ngs[i]);
    }
    free(v->ngs);
    v->ngs = NULL;
    v->n_ngs = 0;
    v->alive = 0;
    for (size_t i = 0; i < v->n_devices; i++) { /* its devices are free again */
        for (size_t u = 0; u < g_n_used; u++) {
            if (strncmp(g_used[u], v->devices[i], HAILO_MAX_DEVICE_ID_LENGTH) == 0) {
                memmove(g_used[u], g_used[u + 1], (g_n_used - u - 1) * sizeof(g_used[0]));
                g_n_used--;
                break;
            }
        }
    }
    g_live--;
    log_event("release_vdevice", NULL);
    pthread_mutex_unlock(&g_mu);
    return HAILO_SUCCESS;
}

/* ------------------------------------------------------------------------------------------------
 * HEF parsing (format written by hef_format.py)
 * --------------------------------------------------------------------------------------------- */

static const uint8_t HEF_MAGIC[8] = {'F', 'H', 'S', 'T', 'D', 'H', 'E', 'F'};
#define HEF_FORMAT_VERSION 2u

typedef struct {
    const uint8_t *p;
    size_t n, off;
    int bad;
} reader_t;

static uint32_t rd_u32(reader_t *r) {
    if (r->bad || r->n - r->off < 4) {
        r->bad = 1;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[r->off] | ((uint32_t)r->p[r->off + 1] << 8) |
                 ((uint32_t)r->p[r->off + 2] << 16) | ((uint32_t)r->p[r->off + 3] << 24);
    r->off += 4;
    return v;
}

static float rd_f32(reader_t *r) {
    uint32_t bits = rd_u32(r);
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

static void rd_name(reader_t *r, char *dst, size_t cap) {
    uint32_t len = rd_u32(r);
    if (r->bad || len == 0 || len >= cap || r->n - r->off < len) {
        r->bad = 1;
        return;
    }
    memset(dst, 0, cap);
    memcpy(dst, r->p + r->off, len);
    r->off += len;
}

static uint8_t *rd_weights(reader_t *r, uint64_t count) {
    if (r->bad || count == 0 || count > (1ull << 31) || r->n - r->off < count) {
        r->bad = 1;
        return NULL;
    }
    uint8_t *w = malloc((size_t)count);
    if (!w) {
        r->bad = 1;
        return NULL;
    }
    memcpy(w, r->p + r->off, (size_t)count);
    r->off += (size_t)count;
    for (uint64_t i = 0; i < count; i++) {
        if (w[i] > 1) r->bad = 1; /* adjacency is 0/1 by construction */
    }
    return w;
}

static void free_ng_desc(ng_desc_t *d) {
    if (d->out) {
        for (uint32_t o = 0; o < d->n_out; o++) free(d->out[o].weights);
    }
    free(d->in);
    free(d->out);
}

static void hef_data_unref(hef_data_t *data) {
    /* caller holds g_mu */
    if (!data || --data->refcount > 0) return;
    for (uint32_t i = 0; i < data->n_ng; i++) free_ng_desc(&data->ngs[i]);
    free(data->ngs);
    free(data);
}

static uint64_t io_elems(const io_desc_t *io) { return (uint64_t)io->h * io->w * io->c; }

static int parse_io(reader_t *r, io_desc_t *io, int is_output, uint32_t n_in, const io_desc_t *inputs) {
    rd_name(r, io->name, sizeof(io->name));
    io->n_original = rd_u32(r);
    if (r->bad || io->n_original > MAX_ORIGINAL_NAMES) return 0;
    for (uint32_t k = 0; k < io->n_original; k++) rd_name(r, io->original[k], sizeof(io->original[k]));
    io->h = rd_u32(r);
    io->w = rd_u32(r);
    io->c = rd_u32(r);
    io->order = rd_u32(r);
    io->qp_scale = rd_f32(r);
    io->qp_zp = rd_f32(r);
    io->native_type = rd_u32(r);
    if (r->bad) return 0;
    if (io->h == 0 || io->w == 0 || io->c == 0) return 0;
    if (io->order != HAILO_FORMAT_ORDER_NHWC && io->order != HAILO_FORMAT_ORDER_NC) return 0;
    if (io->native_type != HAILO_FORMAT_TYPE_UINT8 && io->native_type != HAILO_FORMAT_TYPE_UINT16) return 0;
    if (!is_output) return io->native_type == HAILO_FORMAT_TYPE_UINT8;

    io->input_index = rd_u32(r);
    io->kind = rd_u32(r);
    if (r->bad || io->input_index >= n_in) return 0;
    const io_desc_t *src = &inputs[io->input_index];
    if (io->kind == MODEL_DENSE) {
        io->rows = rd_u32(r);
        io->cols = rd_u32(r);
        if (r->bad || io->cols != io_elems(src) || io->rows != io_elems(io)) return 0;
        io->weights = rd_weights(r, (uint64_t)io->rows * io->cols);
    } else if (io->kind == MODEL_CONV) {
        io->kh = rd_u32(r);
        io->kw = rd_u32(r);
        io->cin = rd_u32(r);
        io->cout = rd_u32(r);
        if (r->bad || io->kh % 2 == 0 || io->kw % 2 == 0 || io->cin != src->c || io->cout != io->c ||
            io->h != src->h || io->w != src->w) {
            return 0;
        }
        io->weights = rd_weights(r, (uint64_t)io->kh * io->kw * io->cin * io->cout);
    } else {
        return 0;
    }
    return !r->bad;
}

/* Returns HAILO_SUCCESS and a new hef_data (refcount 1), or the status a real HailoRT of this
 * version would give for an unusable HEF. */
static hailo_status parse_hef(const uint8_t *buf, size_t size, hef_data_t **out) {
    const hailo_status unsupported = AT_LEAST(4, 21) ? HAILO_HEF_NOT_SUPPORTED : HAILO_INVALID_HEF;
    const hailo_status corrupted = AT_LEAST(4, 21) ? HAILO_HEF_FILE_CORRUPTED : HAILO_INVALID_HEF;
    if (size < sizeof(HEF_MAGIC) || memcmp(buf, HEF_MAGIC, sizeof(HEF_MAGIC)) != 0) return unsupported;
    reader_t r = {buf, size, sizeof(HEF_MAGIC), 0};
    if (rd_u32(&r) != HEF_FORMAT_VERSION) return unsupported;
    uint32_t n_ng = rd_u32(&r);
    if (r.bad || n_ng == 0 || n_ng > HAILO_MAX_NETWORK_GROUPS) return corrupted;

    hef_data_t *data = calloc(1, sizeof(*data));
    if (!data) return HAILO_OUT_OF_HOST_MEMORY;
    data->refcount = 1;
    data->ngs = calloc(n_ng, sizeof(ng_desc_t));
    if (!data->ngs) {
        free(data);
        return HAILO_OUT_OF_HOST_MEMORY;
    }
    data->n_ng = n_ng;
    int ok = 1;
    for (uint32_t g = 0; ok && g < n_ng; g++) {
        ng_desc_t *d = &data->ngs[g];
        rd_name(&r, d->name, sizeof(d->name));
        d->fail_after = rd_u32(&r);
        d->fail_status = rd_u32(&r);
        d->n_in = rd_u32(&r);
        d->n_out = rd_u32(&r);
        if (r.bad || d->n_in == 0 || d->n_out == 0 || d->n_in + d->n_out > HAILO_MAX_STREAMS_COUNT) {
            ok = 0;
            break;
        }
        d->in = calloc(d->n_in, sizeof(io_desc_t));
        d->out = calloc(d->n_out, sizeof(io_desc_t));
        if (!d->in || !d->out) {
            ok = 0;
            break;
        }
        for (uint32_t i = 0; ok && i < d->n_in; i++) ok = parse_io(&r, &d->in[i], 0, 0, NULL);
        for (uint32_t o = 0; ok && o < d->n_out; o++) ok = parse_io(&r, &d->out[o], 1, d->n_in, d->in);
    }
    if (ok && (r.bad || r.off != r.n)) ok = 0; /* trailing bytes mean the writer and reader disagree */
    if (!ok) {
        pthread_mutex_lock(&g_mu);
        hef_data_unref(data);
        pthread_mutex_unlock(&g_mu);
        return corrupted;
    }
    *out = data;
    return HAILO_SUCCESS;
}

static hailo_status make_hef(const uint8_t *buf, size_t size, standin_hef_t **hef) {
    hef_data_t *data = NULL;
    hailo_status st = parse_hef(buf, size, &data);
    if (st != HAILO_SUCCESS) return st;
    standin_hef_t *h = calloc(1, sizeof(*h));
    if (!h) {
        pthread_mutex_lock(&g_mu);
        hef_data_unref(data);
        pthread_mutex_unlock(&g_mu);
        return HAILO_OUT_OF_HOST_MEMORY;
    }
    h->magic = MAGIC_HEF;
    h->alive = 1;
    h->data = data;
    pthread_mutex_lock(&g_mu);
    g_live++;
    log_event("create_hef", NULL);
    pthread_mutex_unlock(&g_mu);
    *hef = h;
    return HAILO_SUCCESS;
}

EXPORT hailo_status hailo_create_hef_buffer(standin_hef_t **hef, const void *buffer, size_t size) {
    if (size == 0) return misuse(); /* a real 4.23 crashes here */
    if (!hef || !buffer) return HAILO_INVALID_ARGUMENT;
    return make_hef(buffer, size, hef);
}

EXPORT hailo_status hailo_create_hef_file(standin_hef_t **hef, const char *file_name) {
    if (!hef || !file_name) return HAILO_INVALID_ARGUMENT;
    FILE *f = fopen(file_name, "rb");
    if (!f) {
        log_file("error", "HEF file cannot be opened", file_name);
        return HAILO_OPEN_FILE_FAILURE;
    }
    uint8_t *buf = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (size == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return HAILO_OUT_OF_HOST_MEMORY;
            }
            buf = nb;
        }
        size_t got = fread(buf + size, 1, cap - size, f);
        size += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err || size == 0) { /* a directory fails the read; an empty file has nothing to read */
        free(buf);
        log_file("error", "HEF file cannot be read", file_name);
        return HAILO_FILE_OPERATION_FAILURE;
    }
    hailo_status st = make_hef(buf, size, hef);
    free(buf);
    if (st != HAILO_SUCCESS) log_file("error", "HEF file rejected", file_name);
    return st;
}

EXPORT hailo_status hailo_release_hef(standin_hef_t *hef) {
    if (!hef_ok(hef)) return misuse();
    pthread_mutex_lock(&g_mu);
    hef->alive = 0;
    hef_data_unref(hef->data);
    hef->data = NULL;
    g_live--;
    log_event("release_hef", NULL);
    pthread_mutex_unlock(&g_mu);
    return HAILO_SUCCESS;
}

static const ng_desc_t *find_ng(const hef_data_t *data, const char *name) {
    if (!name) return &data->ngs[0];
    for (uint32_t g = 0; g < data->n_ng; g++) {
        char net[HAILO_MAX_NETWORK_NAME_SIZE];
        snprintf(net, sizeof(net), "%s/%s", data->ngs[g].name, data->ngs[g].name);
        if (strcmp(name, data->ngs[g].name) == 0 || strcmp(name, net) == 0) return &data->ngs[g];
    }
    return NULL;
}

EXPORT hailo_status hailo_get_network_groups_infos(standin_hef_t *hef, hailo_network_group_info_t *infos,
                                                  size_t *number_of_infos) {
    if (!hef_ok(hef)) return misuse();
    if (!number_of_infos) return HAILO_INVALID_ARGUMENT;
    size_t cap = *number_of_infos;
    *number_of_infos = hef->data->n_ng;
    if (cap < hef->data->n_ng) return HAILO_INSUFFICIENT_BUFFER;
    if (!infos) return HAILO_INVALID_ARGUMENT;
    for (uint32_t g = 0; g < hef->data->n_ng; g++) {
        memset(&infos[g], 0, sizeof(infos[g]));
        snprintf(infos[g].name, sizeof(infos[g].name), "%s", hef->data->ngs[g].name);
        infos[g].is_multi_context = false;
    }
    return HAILO_SUCCESS;
}

static float native_max(uint32_t type) { return type == HAILO_FORMAT_TYPE_UINT16 ? 65535.0f : 255.0f; }

static void fill_vstream_info(const ng_desc_t *d, const io_desc_t *io, int is_input, hailo_vstream_info_t *info) {
    memset(info, 0, sizeof(*info));
    snprintf(info->name, sizeof(info->name), "%s", io->name);
    snprintf(info->network_name, sizeof(info->network_name), "%s/%s", d->name, d->name);
    info->direction = is_input ? HAILO_H2D_STREAM : HAILO_D2H_STREAM;
    info->format.type = (hailo_format_type_t)io->native_type;
    info->format.order = (hailo_format_order_t)io->order;
    info->format.flags = HAILO_FORMAT_FLAGS_NONE;
    info->shape.height = io->h;
    info->shape.width = io->w;
    info->shape.features = io->c;
    info->quant_info.qp_zp = io->qp_zp;
    info->quant_info.qp_scale = io->qp_scale;
    info->quant_info.limvals_min = (0.0f - io->qp_zp) * io->qp_scale;
    info->quant_info.limvals_max = (native_max(io->native_type) - io->qp_zp) * io->qp_scale;
}

EXPORT hailo_status hailo_hef_get_all_vstream_infos(standin_hef_t *hef, const char *name,
                                                   hailo_vstream_info_t *vstream_infos, size_t *vstream_infos_count) {
    if (!hef_ok(hef)) return misuse();
    if (!vstream_infos_count) return HAILO_INVALID_ARGUMENT;
    const ng_desc_t *d = find_ng(hef->data, name);
    if (!d) return HAILO_NOT_FOUND;
    size_t total = (size_t)d->n_in + d->n_out;
    size_t cap = *vstream_infos_count;
    *vstream_infos_count = total;
    if (cap < total) return HAILO_INSUFFICIENT_BUFFER;
    if (!vstream_infos) return HAILO_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < d->n_in; i++) fill_vstream_info(d, &d->in[i], 1, &vstream_infos[i]);
    for (uint32_t o = 0; o < d->n_out; o++) fill_vstream_info(d, &d->out[o], 0, &vstream_infos[d->n_in + o]);
    return HAILO_SUCCESS;
}

EXPORT hailo_status hailo_hef_get_original_names_from_vstream_name(standin_hef_t *hef, const char *network_group_name,
                                                                  const char *vstream_name,
                                                                  hailo_layer_name_t *original_names,
                                                                  size_t *original_names_length) {
    if (!hef) return HAILO_INVALID_ARGUMENT;
    if (!hef_ok(hef)) return misuse();
    if (!vstream_name || !original_names || !original_names_length) return HAILO_INVALID_ARGUMENT;
    const ng_desc_t *d = find_ng(hef->data, network_group_name);
    if (!d) return HAILO_NOT_FOUND;
    const io_desc_t *io = NULL;
    for (uint32_t i = 0; !io && i < d->n_in; i++) {
        if (strcmp(d->in[i].name, vstream_name) == 0) io = &d->in[i];
    }
    for (uint32_t o = 0; !io && o < d->n_out; o++) {
        if (strcmp(d->out[o].name, vstream_name) == 0) io = &d->out[o];
    }
    if (!io) return HAILO_NOT_FOUND;
    size_t cap = *original_names_length;
    *original_names_length = io->n_original;
    if (io->n_original > cap) return HAILO_INSUFFICIENT_BUFFER;
    for (uint32_t k = 0; k < io->n_original; k++) {
        memset(original_names[k].name, 0, sizeof(original_names[k].name));
        snprintf(original_names[k].name, sizeof(original_names[k].name), "%s", io->original[k]);
    }
    return HAILO_SUCCESS;
}

static size_t type_size(uint32_t type) {
    switch (type) {
    case HAILO_FORMAT_TYPE_UINT8: return 1;
    case HAILO_FORMAT_TYPE_UINT16: return 2;
    case HAILO_FORMAT_TYPE_FLOAT32: return 4;
    default: return 0;
    }
}

EXPORT hailo_status hailo_get_vstream_frame_size(hailo_vstream_info_t *vstream_info, hailo_format_t *user_buffer_format,
                                                size_t *frame_size) {
    if (!vstream_info || !user_buffer_format || !frame_size) return HAILO_INVALID_ARGUMENT;
    uint32_t type = user_buffer_format->type == HAILO_FORMAT_TYPE_AUTO ? (uint32_t)vstream_info->format.type
                                                                       : (uint32_t)user_buffer_format->type;
    size_t ts = type_size(type);
    if (!ts) return HAILO_INVALID_ARGUMENT;
    *frame_size = (size_t)vstream_info->shape.height * vstream_info->shape.width * vstream_info->shape.features * ts;
    return HAILO_SUCCESS;
}

/* ------------------------------------------------------------------------------------------------
 * Configuration
 * --------------------------------------------------------------------------------------------- */

EXPORT hailo_status hailo_init_configure_params_by_vdevice(standin_hef_t *hef, standin_vdevice_t *vdevice,
                                                          hailo_configure_params_t *params) {
    if (!hef_ok(hef) || !vdevice_ok(vdevice)) return misuse();
    if (!params) return HAILO_INVALID_ARGUMENT;
    memset(params, 0, sizeof(*params));
    params->network_group_params_count = hef->data->n_ng;
    for (uint32_t g = 0; g < hef->data->n_ng; g++) {
        const ng_desc_t *d = &hef->data->ngs[g];
        hailo_configure_network_group_params_t *p = &params->network_group_params[g];
        snprintf(p->name, sizeof(p->name), "%s", d->name);
        p->stream_params_by_name_count = (size_t)d->n_in + d->n_out;
        for (uint32_t i = 0; i < d->n_in + d->n_out; i++) {
            const io_desc_t *io = i < d->n_in ? &d->in[i] : &d->out[i - d->n_in];
            snprintf(p->stream_params_by_name[i].name, HAILO_MAX_STREAM_NAME_SIZE, "%s", io->name);
            p->stream_params_by_name[i].stream_params.stream_interface = HAILO_STREAM_INTERFACE_PCIE;
            p->stream_params_by_name[i].stream_params.direction = i < d->n_in ? HAILO_H2D_STREAM : HAILO_D2H_STREAM;
        }
        p->network_params_by_name_count = 1;
        snprintf(p->network_params_by_name[0].name, HAILO_MAX_NETWORK_NAME_SIZE, "%s/%s", d->name, d->name);
    }
    return HAILO_SUCCESS;
}

static standin_ng_t *ng_create(standin_vdevice_t *owner, hef_data_t *data, const ng_desc_t *d) {
    standin_ng_t *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->magic = MAGIC_NG;
    g->alive = 1;
    g->owner = owner;
    g->data = data;
    g->d = d;
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    g->in_q = calloc(d->n_in, sizeof(uint8_t *));
    g->out_q = calloc(d->n_out, sizeof(uint32_t *));
    g->in_head = calloc(d->n_in, sizeof(int));
    g->in_count = calloc(d->n_in, sizeof(int));
    g->out_head = calloc(d->n_out, sizeof(int));
    g->out_count = calloc(d->n_out, sizeof(int));
    int ok = g->in_q && g->out_q && g->in_head && g->in_count && g->out_head && g->out_count;
    for (uint32_t i = 0; ok && i < d->n_in; i++) {
        g->in_q[i] = malloc((size_t)io_elems(&d->in[i]) * QUEUE_CAPACITY);
        ok = g->in_q[i] != NULL;
    }
    for (uint32_t o = 0; ok && o < d->n_out; o++) {
        g->out_q[o] = malloc((size_t)io_elems(&d->out[o]) * QUEUE_CAPACITY * sizeof(uint32_t));
        ok = g->out_q[o] != NULL;
    }
    if (!ok) {
        /* partial allocations are leaked on purpose: out-of-memory in a test double is fatal anyway */
        return NULL;
    }
    return g;
}

EXPORT hailo_status hailo_configure_vdevice(standin_vdevice_t *vdevice, standin_hef_t *hef, hailo_configure_params_t *params,
                                           standin_ng_t **network_groups, size_t *number_of_network_groups) {
    if (!vdevice_ok(vdevice) || !hef_ok(hef)) return misuse();
    if (!network_groups || !number_of_network_groups) return HAILO_INVALID_ARGUMENT;
    const ng_desc_t *chosen[HAILO_MAX_NETWORK_GROUPS];
    size_t n = 0;
    if (params) {
        if (params->network_group_params_count > HAILO_MAX_NETWORK_GROUPS) return HAILO_INVALID_ARGUMENT;
        for (size_t i = 0; i < params->network_group_params_count; i++) {
            const ng_desc_t *d = find_ng(hef->data, params->network_group_params[i].name);
            if (!d) return HAILO_NOT_FOUND;
            chosen[n++] = d;
        }
    } else {
        for (uint32_t g = 0; g < hef->data->n_ng; g++) chosen[n++] = &hef->data->ngs[g];
    }
    if (*number_of_network_groups < n) {
        *number_of_network_groups = n;
        return HAILO_INSUFFICIENT_BUFFER;
    }
    if (vdevice->hailo8l) { /* stand-in HEFs are Hailo-8 HEFs */
        return AT_LEAST(4, 21) ? HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE : HAILO_INVALID_HEF;
    }
    pthread_mutex_lock(&g_mu);
    if (vdevice->n_ngs + n > STANDIN_MAX_CORE_OPS) {
        pthread_mutex_unlock(&g_mu);
        return HAILO_INVALID_OPERATION;
    }
    standin_ng_t **grown = realloc(vdevice->ngs, (vdevice->n_ngs + n) * sizeof(*grown));
    if (!grown) {
        pthread_mutex_unlock(&g_mu);
        return HAILO_OUT_OF_HOST_MEMORY;
    }
    vdevice->ngs = grown;
    for (size_t i = 0; i < n; i++) {
        standin_ng_t *g = ng_create(vdevice, hef->data, chosen[i]);
        if (!g) {
            pthread_mutex_unlock(&g_mu);
            return HAILO_OUT_OF_HOST_MEMORY;
        }
        hef->data->refcount++; /* the configured group outlives the HEF handle, as in HailoRT */
        vdevice->ngs[vdevice->n_ngs++] = g;
        network_groups[i] = g;
        g_live++;
        log_event("configure", chosen[i]->name);
    }
    pthread_mutex_unlock(&g_mu);
    *number_of_network_groups = n;
    return HAILO_SUCCESS;
}

EXPORT hailo_status hailo_activate_network_group(standin_ng_t *network_group, hailo_activate_network_group_params_t *params,
                                                void **activated_out) {
    (void)params;
    if (!ng_ok(network_group)) return misuse();
    if (activated_out) *activated_out = NULL;
    /* The default vdevice runs the model scheduler, which owns activation. */
    if (network_group->owner->scheduling != HAILO_SCHEDULING_ALGORITHM_NONE) return HAILO_INVALID_OPERATION;
    return HAILO_NOT_SUPPORTED; /* manual activation is not modelled by the stand-in */
}

/* ------------------------------------------------------------------------------------------------
 * Virtual streams
 * --------------------------------------------------------------------------------------------- */

static hailo_status make_params(standin_ng_t *g, int inputs, hailo_format_type_t format_type,
                                hailo_input_vstream_params_by_name_t *params, size_t *count) {
    if (!ng_ok(g)) return misuse();
    if (!count) return HAILO_INVALID_ARGUMENT;
    if (format_type != HAILO_FORMAT_TYPE_AUTO && !type_size(format_type)) return HAILO_INVALID_ARGUMENT;
    uint32_t n = inputs ? g->d->n_in : g->d->n_out;
    size_t cap = *count;
    *count = n;
    if (cap < n) return HAILO_INSUFFICIENT_BUFFER;
    if (!params) return HAILO_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < n; i++) {
        const io_desc_t *io = inputs ? &g->d->in[i] : &g->d->out[i];
        memset(&params[i], 0, sizeof(params[i]));
        snprintf(params[i].name, sizeof(params[i].name), "%s", io->name);
        params[i].params.user_buffer_format.type = format_type;
        params[i].params.user_buffer_format.order = (hailo_format_order_t)io->order;
        params[i].params.user_buffer_format.flags = HAILO_FORMAT_FLAGS_NONE;
        params[i].params.timeout_ms = HAILO_DEFAULT_VSTREAM_TIMEOUT_MS;
        params[i].params.queue_size = HAILO_DEFAULT_VSTREAM_QUEUE_SIZE;
    }
    return HAILO_SUCCESS;
}

EXPORT hailo_status hailo_make_input_vstream_params(standin_ng_t *network_group, bool unused, hailo_format_type_t format_type,
                                                   hailo_input_vstream_params_by_name_t *input_params, size_t *input_params_count) {
    (void)unused;
    return make_params(network_group, 1, format_type, input_params, input_params_count);
}

EXPORT hailo_status hailo_make_output_vstream_params(standin_ng_t *network_group, bool unused, hailo_format_type_t format_type,
                                                    hailo_output_vstream_params_by_name_t *output_params, size_t *output_params_count) {
    (void)unused;
    return make_params(network_group, 0, format_type, (hailo_input_vstream_params_by_name_t *)output_params,
                       output_params_count);
}

static hailo_status create_vstreams(standin_ng_t *g, int inputs, const hailo_input_vstream_params_by_name_t *params,
                                    size_t count, standin_vstream_t **out) {
    if (!ng_ok(g)) return misuse();
    if (!params || !out || count == 0) return HAILO_INVALID_ARGUMENT;
    uint32_t n = inputs ? g->d->n_in : g->d->n_out;
    /* validate everything before creating anything, so a failure leaves nothing to release */
    uint32_t idx[HAILO_MAX_STREAMS_COUNT];
    if (count > HAILO_MAX_STREAMS_COUNT) return HAILO_INVALID_ARGUMENT;
    for (size_t k = 0; k < count; k++) {
        uint32_t found = n;
        for (uint32_t i = 0; i < n; i++) {
            const io_desc_t *io = inputs ? &g->d->in[i] : &g->d->out[i];
            if (strncmp(params[k].name, io->name, HAILO_MAX_STREAM_NAME_SIZE) == 0) found = i;
        }
        if (found == n) return HAILO_NOT_FOUND;
        hailo_format_type_t t = params[k].params.user_buffer_format.type;
        if (t != HAILO_FORMAT_TYPE_AUTO && !type_size(t)) return HAILO_INVALID_ARGUMENT;
        idx[k] = found;
    }
    pthread_mutex_lock(&g_mu);
    for (size_t k = 0; k < count; k++) {
        const io_desc_t *io = inputs ? &g->d->in[idx[k]] : &g->d->out[idx[k]];
        standin_vstream_t *s = calloc(1, sizeof(*s));
        if (!s) {
            pthread_mutex_unlock(&g_mu);
            return HAILO_OUT_OF_HOST_MEMORY;
        }
        s->magic = MAGIC_VSTREAM;
        s->alive = 1;
        s->is_input = inputs;
        s->index = idx[k];
        s->ng = g;
        s->user_format = params[k].params.user_buffer_format;
        if (s->user_format.type == HAILO_FORMAT_TYPE_AUTO) s->user_format.type = (hailo_format_type_t)io->native_type;
        if (s->user_format.order == HAILO_FORMAT_ORDER_AUTO) s->user_format.order = (hailo_format_order_t)io->order;
        s->timeout_ms = params[k].params.timeout_ms;
        out[k] = s;
        g->live_vstreams++;
        g_live++;
        log_event(inputs ? "create_input_vstream" : "create_output_vstream", io->name);
    }
    pthread_mutex_unlock(&g_mu);
    return HAILO_SUCCESS;
}

EXPORT hailo_status hailo_create_input_vstreams(standin_ng_t *network_group, const hailo_input_vstream_params_by_name_t *inputs_params,
                                               size_t inputs_count, standin_vstream_t **input_vstreams) {
    return create_vstreams(network_group, 1, inputs_params, inputs_count, input_vstreams);
}

EXPORT hailo_status hailo_create_output_vstreams(standin_ng_t *network_group, const hailo_output_vstream_params_by_name_t *outputs_params,
                                                size_t outputs_count, standin_vstream_t **output_vstreams) {
    return create_vstreams(network_group, 0, (const hailo_input_vstream_params_by_name_t *)outputs_params, outputs_count,
                           output_vstreams);
}

static const io_desc_t *vstream_io(const standin_vstream_t *s) {
    return s->is_input ? &s->ng->d->in[s->index] : &s->ng->d->out[s->index];
}

static hailo_status release_vstreams(standin_vstream_t *const *handles, size_t count, int inputs) {
    if (!handles) return HAILO_INVALID_ARGUMENT;
    for (size_t k = 0; k < count; k++) {
        if (!vstream_ok(handles[k]) || handles[k]->is_input != inputs) return misuse();
    }
    pthread_mutex_lock(&g_mu);
    for (size_t k = 0; k < count; k++) {
        standin_vstream_t *s = handles[k];
        /* a vstream outliving its vdevice is a caller bug already counted; its names may be gone */
        log_event(inputs ? "release_input_vstream" : "release_output_vstream",
                  s->ng->alive ? vstream_io(s)->name : "?");
        s->alive = 0;
        s->ng->live_vstreams--;
        g_live--;
    }
    pthread_mutex_unlock(&g_mu);
    return HAILO_SUCCESS;
}

EXPORT hailo_status hailo_release_input_vstreams(standin_vstream_t *const *input_vstreams, size_t inputs_count) {
    return release_vstreams(input_vstreams, inputs_count, 1);
}

EXPORT hailo_status hailo_release_output_vstreams(standin_vstream_t *const *output_vstreams, size_t outputs_count) {
    return release_vstreams(output_vstreams, outputs_count, 0);
}

static hailo_status vstream_info(standin_vstream_t *s, int inputs, hailo_vstream_info_t *info) {
    if (!vstream_ok(s) || s->is_input != inputs || !ng_ok(s->ng)) return misuse();
    if (!info) return HAILO_INVALID_ARGUMENT;
    fill_vstream_info(s->ng->d, vstream_io(s), inputs, info);
    return HAILO_SUCCESS;
}

EXPORT hailo_status hailo_get_input_vstream_info(standin_vstream_t *input_vstream, hailo_vstream_info_t *vstream_info_out) {
    return vstream_info(input_vstream, 1, vstream_info_out);
}

EXPORT hailo_status hailo_get_output_vstream_info(standin_vstream_t *output_vstream, hailo_vstream_info_t *vstream_info_out) {
    return vstream_info(output_vstream, 0, vstream_info_out);
}

static hailo_status user_format(standin_vstream_t *s, int inputs, hailo_format_t *fmt) {
    if (!vstream_ok(s) || s->is_input != inputs || !ng_ok(s->ng)) return misuse();
    if (!fmt) return HAILO_INVALID_ARGUMENT;
    *fmt = s->user_format;
    return HAILO_SUCCESS;
}

EXPORT hailo_status hailo_get_input_vstream_user_format(standin_vstream_t *input_vstream, hailo_format_t *fmt) {
    return user_format(input_vstream, 1, fmt);
}

EXPORT hailo_status hailo_get_output_vstream_user_format(standin_vstream_t *output_vstream, hailo_format_t *fmt) {
    return user_format(output_vstream, 0, fmt);
}

static size_t vstream_frame_size(const standin_vstream_t *s) {
    return (size_t)io_elems(vstream_io(s)) * type_size(s->user_format.type);
}

static hailo_status frame_size(standin_vstream_t *s, int inputs, size_t *size) {
    if (!vstream_ok(s) || s->is_input != inputs || !ng_ok(s->ng)) return misuse();
    if (!size) return HAILO_INVALID_ARGUMENT;
    *size = vstream_frame_size(s);
    return HAILO_SUCCESS;
}

EXPORT hailo_status hailo_get_input_vstream_frame_size(standin_vstream_t *input_vstream, size_t *size) {
    return frame_size(input_vstream, 1, size);
}

EXPORT hailo_status hailo_get_output_vstream_frame_size(standin_vstream_t *output_vstream, size_t *size) {
    return frame_size(output_vstream, 0, size);
}

/* --- inference ------------------------------------------------------------------------------ */

/* The device dequantizes an input frame before its first layer: real = (raw - qp_zp) * qp_scale.
 * A spike written as raw 1 into an input quantized with scale 1/255 is 1/255, not 1, which is
 * why the integrator must encode spikes with the input's quantization. Identity quantization
 * (scale 1, zp 0) keeps the exact integer path. */
static double input_real(const io_desc_t *in, uint8_t raw) {
    return ((double)raw - (double)in->qp_zp) * (double)in->qp_scale;
}

static uint32_t saturate(double v, uint32_t limit) {
    double r = nearbyint(v);
    return r <= 0.0 ? 0u : r >= (double)limit ? limit : (uint32_t)r;
}

static void compute_output(const io_desc_t *out, const uint8_t *x, uint32_t *y, const io_desc_t *in) {
    const uint32_t limit = out->native_type == HAILO_FORMAT_TYPE_UINT16 ? 65535u : 255u;
    const int identity = in->qp_scale == 1.0f && in->qp_zp == 0.0f;
    if (out->kind == MODEL_DENSE) {
        for (uint32_t r = 0; r < out->rows; r++) {
            const uint8_t *a = out->weights + (size_t)r * out->cols;
            if (identity) {
                uint64_t acc = 0;
                for (uint32_t c = 0; c < out->cols; c++) acc += (uint64_t)a[c] * x[c];
                y[r] = acc > limit ? limit : (uint32_t)acc; /* the output layer saturates like the device */
            } else {
                double acc = 0.0;
                for (uint32_t c = 0; c < out->cols; c++) acc += a[c] * input_real(in, x[c]);
                y[r] = saturate(acc, limit);
            }
        }
        return;
    }
    const int H = (int)in->h, W = (int)in->w, ph = (int)out->kh / 2, pw = (int)out->kw / 2;
    for (int i = 0; i < H; i++) {
        for (int j = 0; j < W; j++) {
            for (uint32_t co = 0; co < out->cout; co++) {
                uint64_t acc = 0;
                double acc_real = 0.0;
                for (int dy = 0; dy < (int)out->kh; dy++) {
                    int yy = i + dy - ph;
                    if (yy < 0 || yy >= H) continue;
                    for (int dx = 0; dx < (int)out->kw; dx++) {
                        int xx = j + dx - pw;
                        if (xx < 0 || xx >= W) continue;
                        const uint8_t *px = x + ((size_t)yy * W + xx) * out->cin;
                        const uint8_t *k = out->weights + (((size_t)dy * out->kw + dx) * out->cin) * out->cout + co;
                        for (uint32_t ci = 0; ci < out->cin; ci++) {
                            if (identity) acc += (uint64_t)k[(size_t)ci * out->cout] * px[ci];
                            else acc_real += k[(size_t)ci * out->cout] * input_real(in, px[ci]);
                        }
                    }
                }
                y[((size_t)i * W + j) * out->cout + co] =
                    identity ? (acc > limit ? limit : (uint32_t)acc) : saturate(acc_real, limit);
            }
        }
    }
}

/* Runs as many bursts as inputs and output space allow; caller holds g->mu. */
static void pump(standin_ng_t *g) {
    const ng_desc_t *d = g->d;
    for (;;) {
        for (uint32_t i = 0; i < d->n_in; i++) {
            if (g->in_count[i] == 0) return;
        }
        for (uint32_t o = 0; o < d->n_out; o++) {
            if (g->out_count[o] == QUEUE_CAPACITY) return;
        }
        for (uint32_t o = 0; o < d->n_out; o++) {
            const io_desc_t *out = &d->out[o];
            const io_desc_t *in = &d->in[out->input_index];
            uint32_t ii = out->input_index;
            const uint8_t *x = g->in_q[ii] + (size_t)g->in_head[ii] * io_elems(in);
            int slot = (g->out_head[o] + g->out_count[o]) % QUEUE_CAPACITY;
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            compute_output(out, x, g->out_q[o] + (size_t)slot * io_elems(out), in);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            __atomic_fetch_add(&g_compute_ns,
                               (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec)),
                               __ATOMIC_RELAXED);
            __atomic_fetch_add(&g_compute_count, 1, __ATOMIC_RELAXED);
            g->out_count[o]++;
        }
        for (uint32_t i = 0; i < d->n_in; i++) {
            g->in_head[i] = (g->in_head[i] + 1) % QUEUE_CAPACITY;
            g->in_count[i]--;
        }
        g->bursts_done++;
        pthread_cond_broadcast(&g->cv);
    }
}

static void deadline_after(struct timespec *ts, uint32_t timeout_ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static uint8_t quantize_input(float v, const io_desc_t *io) {
    float q = roundf(v / io->qp_scale + io->qp_zp);
    return q <= 0.0f ? 0 : q >= 255.0f ? 255 : (uint8_t)q;
}

EXPORT hailo_status hailo_vstream_write_raw_buffer(standin_vstream_t *s, const void *buffer, size_t buffer_size) {
    if (!vstream_ok(s) || !s->is_input) return misuse();
    if (!buffer) return HAILO_INVALID_ARGUMENT;
    standin_ng_t *g = s->ng;
    pthread_mutex_lock(&g->mu);
    if (!g->alive) {
        pthread_mutex_unlock(&g->mu);
        return misuse();
    }
    const io_desc_t *io = vstream_io(s);
    if (buffer_size != vstream_frame_size(s)) {
        pthread_mutex_unlock(&g->mu);
        return HAILO_INVALID_ARGUMENT;
    }
    if (g->failed || (g->d->fail_after && g->bursts_done >= g->d->fail_after)) {
        g->failed = 1;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        return (hailo_status)g->d->fail_status;
    }
    struct timespec deadline;
    deadline_after(&deadline, s->timeout_ms);
    while (g->alive && g->in_count[s->index] == QUEUE_CAPACITY) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&g->mu);
            return HAILO_TIMEOUT;
        }
    }
    if (!g->alive) {
        pthread_mutex_unlock(&g->mu);
        return HAILO_STREAM_ABORT;
    }
    size_t n = (size_t)io_elems(io);
    int slot = (g->in_head[s->index] + g->in_count[s->index]) % QUEUE_CAPACITY;
    uint8_t *dst = g->in_q[s->index] + (size_t)slot * n;
    switch (s->user_format.type) {
    case HAILO_FORMAT_TYPE_UINT8:
        memcpy(dst, buffer, n);
        break;
    case HAILO_FORMAT_TYPE_UINT16: {
        const uint16_t *src = buffer;
        for (size_t k = 0; k < n; k++) dst[k] = src[k] > 255 ? 255 : (uint8_t)src[k];
        break;
    }
    default: {
        const float *src = buffer;
        for (size_t k = 0; k < n; k++) dst[k] = quantize_input(src[k], io);
        break;
    }
    }
    g->in_count[s->index]++;
    pump(g);
    pthread_mutex_unlock(&g->mu);
    return HAILO_SUCCESS;
}

EXPORT hailo_status hailo_vstream_read_raw_buffer(standin_vstream_t *s, void *buffer, size_t buffer_size) {
    if (!vstream_ok(s) || s->is_input) return misuse();
    if (!buffer) return HAILO_INVALID_ARGUMENT;
    standin_ng_t *g = s->ng;
    pthread_mutex_lock(&g->mu);
    if (!g->alive) {
        pthread_mutex_unlock(&g->mu);
        return misuse();
    }
    const io_desc_t *io = vstream_io(s);
    if (buffer_size != vstream_frame_size(s)) {
        pthread_mutex_unlock(&g->mu);
        return HAILO_INVALID_ARGUMENT;
    }
    struct timespec deadline;
    deadline_after(&deadline, s->timeout_ms);
    while (g->alive && g->out_count[s->index] == 0) {
        if (g->failed) {
            pthread_mutex_unlock(&g->mu);
            return (hailo_status)g->d->fail_status;
        }
        if (pthread_cond_timedwait(&g->cv, &g->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&g->mu);
            return HAILO_TIMEOUT;
        }
    }
    if (!g->alive) {
        pthread_mutex_unlock(&g->mu);
        return HAILO_STREAM_ABORT;
    }
    size_t n = (size_t)io_elems(io);
    const uint32_t *src = g->out_q[s->index] + (size_t)g->out_head[s->index] * n;
    switch (s->user_format.type) {
    case HAILO_FORMAT_TYPE_UINT8: {
        uint8_t *dst = buffer;
        for (size_t k = 0; k < n; k++) dst[k] = src[k] > 255 ? 255 : (uint8_t)src[k];
        break;
    }
    case HAILO_FORMAT_TYPE_UINT16: {
        uint16_t *dst = buffer;
        for (size_t k = 0; k < n; k++) dst[k] = (uint16_t)src[k];
        break;
    }
    default: {
        float *dst = buffer;
        for (size_t k = 0; k < n; k++) dst[k] = ((float)src[k] - io->qp_zp) * io->qp_scale;
        break;
    }
    }
    g->out_head[s->index] = (g->out_head[s->index] + 1) % QUEUE_CAPACITY;
    g->out_count[s->index]--;
    pump(g);
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return HAILO_SUCCESS;
}
