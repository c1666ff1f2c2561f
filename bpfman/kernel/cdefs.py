"""The C declarations cffi needs: only what bpfman calls.

Layouts are from the kernel uapi (``linux/bpf.h``, ``linux/btf.h``,
``linux/perf_event.h``) and libbpf 1.1 (``bpf/libbpf.h``, ``bpf/bpf.h``,
``bpf/btf.h``). Attribute structs for raw ``bpf()`` commands hold only the
members of one union arm: the kernel accepts a shorter ``union bpf_attr`` and
zero-fills the rest, which lets us use commands libbpf 1.1 does not know (TCX).
"""

LIBBPF = """
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;

/* libbpf.h: logging.  va_list is passed through as an opaque pointer. */
typedef int (*libbpf_print_fn_t)(int level, const char *fmt, void *ap);
libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn);

/* libbpf.h: objects, programs, maps */
struct bpf_object;
struct bpf_program;
struct bpf_map;
struct btf;

struct bpf_object_open_opts {
    size_t sz;
    const char *object_name;
    bool relaxed_maps;
    const char *pin_root_path;
    __u32 _stub_attach_prog_fd;
    const char *kconfig;
    const char *btf_custom_path;
    char *kernel_log_buf;
    size_t kernel_log_size;
    __u32 kernel_log_level;
};

struct bpf_object *bpf_object__open_file(const char *path,
                                         const struct bpf_object_open_opts *opts);
struct bpf_object *bpf_object__open_mem(const void *obj_buf, size_t obj_buf_sz,
                                        const struct bpf_object_open_opts *opts);
int bpf_object__load(struct bpf_object *obj);
void bpf_object__close(struct bpf_object *obj);
struct btf *bpf_object__btf(const struct bpf_object *obj);

struct bpf_program *bpf_object__next_program(const struct bpf_object *obj,
                                             struct bpf_program *prog);
const char *bpf_program__name(const struct bpf_program *prog);
const char *bpf_program__section_name(const struct bpf_program *prog);
int bpf_program__type(const struct bpf_program *prog);
bool bpf_program__autoload(const struct bpf_program *prog);
int bpf_program__set_autoload(struct bpf_program *prog, bool autoload);
int bpf_program__fd(const struct bpf_program *prog);
int bpf_program__set_type(struct bpf_program *prog, int type);
int bpf_program__set_expected_attach_type(struct bpf_program *prog, int type);
int bpf_program__set_log_buf(struct bpf_program *prog, char *log_buf, size_t log_size);
int bpf_program__set_attach_target(struct bpf_program *prog, int attach_prog_fd,
                                   const char *attach_func_name);

struct bpf_map *bpf_object__next_map(const struct bpf_object *obj, const struct bpf_map *map);
const char *bpf_map__name(const struct bpf_map *map);
int bpf_map__type(const struct bpf_map *map);
bool bpf_map__is_internal(const struct bpf_map *map);
int bpf_map__fd(const struct bpf_map *map);
int bpf_map__reuse_fd(struct bpf_map *map, int fd);
int bpf_map__set_pin_path(struct bpf_map *map, const char *path);
__u32 bpf_map__btf_value_type_id(const struct bpf_map *map);
const void *bpf_map__initial_value(struct bpf_map *map, size_t *psize);

int libbpf_probe_bpf_prog_type(int prog_type, const void *opts);
int libbpf_num_possible_cpus(void);
int bpf_map__set_max_entries(struct bpf_map *map, __u32 max_entries);

/* btf.h */
struct btf_type {
    __u32 name_off;
    __u32 info;
    __u32 size_or_type;
};
struct btf_var_secinfo {
    __u32 type;
    __u32 offset;
    __u32 size;
};
__u32 btf__type_cnt(const struct btf *btf);
const struct btf_type *btf__type_by_id(const struct btf *btf, __u32 id);
const char *btf__name_by_offset(const struct btf *btf, __u32 offset);
struct btf_enum {
    __u32 name_off;
    __s32 val;
};
struct btf_param {
    __u32 name_off;
    __u32 type;
};
struct btf_array {
    __u32 type;
    __u32 index_type;
    __u32 nelems;
};
struct btf *btf__load_from_kernel_by_id(__u32 id);
struct btf *btf__load_vmlinux_btf(void);
__s32 btf__find_by_name_kind(const struct btf *btf, const char *type_name, __u32 kind);
void btf__free(struct btf *btf);

/* bpf.h: low-level wrappers */
int bpf_obj_pin(int fd, const char *pathname);
int bpf_obj_get(const char *pathname);
int bpf_prog_get_next_id(__u32 start_id, __u32 *next_id);
int bpf_prog_get_fd_by_id(__u32 id);
int bpf_map_get_fd_by_id(__u32 id);
int bpf_link_get_fd_by_id(__u32 id);
int bpf_obj_get_info_by_fd(int bpf_fd, void *info, __u32 *info_len);
int bpf_map_lookup_elem(int fd, const void *key, void *value);
int bpf_raw_tracepoint_open(const char *name, int prog_fd);
int bpf_btf_get_fd_by_id(__u32 id);
int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags);
int bpf_enable_stats(int type);

struct bpf_link_update_opts {
    size_t sz;
    __u32 flags;
    __u32 old_prog_fd;
};
int bpf_link_update(int link_fd, int new_prog_fd, const struct bpf_link_update_opts *opts);
int bpf_link_detach(int link_fd);

struct bpf_test_run_opts {
    size_t sz;
    const void *data_in;
    void *data_out;
    __u32 data_size_in;
    __u32 data_size_out;
    const void *ctx_in;
    void *ctx_out;
    __u32 ctx_size_in;
    __u32 ctx_size_out;
    __u32 retval;
    int repeat;
    __u32 duration;
    __u32 flags;
    __u32 cpu;
    __u32 batch_size;
};
int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts);

/* linux/bpf.h (6.1 uapi); gpl_compatible is a 1-bit field in the low bit. */
struct bpf_prog_info {
    __u32 type;
    __u32 id;
    __u8 tag[8];
    __u32 jited_prog_len;
    __u32 xlated_prog_len;
    __u64 jited_prog_insns;
    __u64 xlated_prog_insns;
    __u64 load_time;
    __u32 created_by_uid;
    __u32 nr_map_ids;
    __u64 map_ids;
    char name[16];
    __u32 ifindex;
    __u32 gpl_compatible;
    __u64 netns_dev;
    __u64 netns_ino;
    __u32 nr_jited_ksyms;
    __u32 nr_jited_func_lens;
    __u64 jited_ksyms;
    __u64 jited_func_lens;
    __u32 btf_id;
    __u32 func_info_rec_size;
    __u64 func_info;
    __u32 nr_func_info;
    __u32 nr_line_info;
    __u64 line_info;
    __u64 jited_line_info;
    __u32 nr_jited_line_info;
    __u32 line_info_rec_size;
    __u32 jited_line_info_rec_size;
    __u32 nr_prog_tags;
    __u64 prog_tags;
    __u64 run_time_ns;
    __u64 run_cnt;
    __u64 recursion_misses;
    __u32 verified_insns;
    __u32 attach_btf_obj_id;
    __u32 attach_btf_id;
};

struct bpf_map_info {
    __u32 type;
    __u32 id;
    __u32 key_size;
    __u32 value_size;
    __u32 max_entries;
    __u32 map_flags;
    char name[16];
    __u32 ifindex;
    __u32 btf_vmlinux_value_type_id;
    __u64 netns_dev;
    __u64 netns_ino;
    __u32 btf_id;
    __u32 btf_key_type_id;
    __u32 btf_value_type_id;
    __u32 _pad;
    __u64 map_extra;
};

/* struct bpf_link_info: the common head, then the first words of the per-type
   union (8-byte aligned, at offset 16): ifindex for xdp; ifindex and attach
   type for tcx and netkit; the perf event's kind for perf_event links. */
struct bpf_link_info_head {
    __u32 type;
    __u32 id;
    __u32 prog_id;
    __u32 _pad;
    __u32 words[8];
};

/* union bpf_attr, BPF_LINK_CREATE arm.  At offset 16 the per-type union starts:
   target_btf_id (freplace/tracing) or tcx.relative_fd/relative_id (Linux >= 6.6),
   followed by tcx.expected_revision. */
struct bpf_attr_link_create {
    __u32 prog_fd;
    __u32 target_fd;
    __u32 attach_type;
    __u32 flags;
    __u32 target_btf_id_or_relative;
    __u32 _pad;
    __u64 expected_revision;
};

/* union bpf_attr, BPF_PROG_QUERY arm (revision etc. as in Linux >= 6.6). */
struct bpf_attr_query {
    __u32 target_fd;
    __u32 attach_type;
    __u32 query_flags;
    __u32 attach_flags;
    __u64 prog_ids;
    __u32 prog_cnt;
    __u32 _pad;
    __u64 prog_attach_flags;
    __u64 link_ids;
    __u64 link_attach_flags;
    __u64 revision;
};

/* linux/perf_event.h, PERF_ATTR_SIZE_VER1 prefix (72 bytes). */
struct perf_event_attr {
    __u32 type;
    __u32 size;
    __u64 config;
    __u64 sample_period;
    __u64 sample_type;
    __u64 read_format;
    __u64 flags;
    __u32 wakeup_events;
    __u32 bp_type;
    __u64 config1;
    __u64 config2;
};
"""

LIBC = """
long syscall(long number, ...);
int vsnprintf(char *str, size_t size, const char *format, void *ap);
"""
