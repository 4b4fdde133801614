// SPDX-License-Identifier: GPL-2.0-only
/*
 * The program and its maps: load from the embedded skeleton, pin and reuse
 * the maps under --bpffs, and switch the policy set in one step by writing
 * the next generation beside the live one and flipping pd_config.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/hostset.h"
#include "lib/log.h"
#include "daemon.h"
#include "policy.skel.h"

#define BPFFS_DEFAULT_MOUNT "/sys/fs/bpf"

static bool path_on_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Make sure @dir exists on a bpf filesystem, mounting the default one when
 * it is absent (SPEC §3: bpffs is not always mounted). */
static int bpffs_prepare(const char *dir)
{
	int err;

	if (!path_on_bpffs(BPFFS_DEFAULT_MOUNT) &&
	    strncmp(dir, BPFFS_DEFAULT_MOUNT "/", strlen(BPFFS_DEFAULT_MOUNT) + 1) == 0) {
		if (mount("bpf", BPFFS_DEFAULT_MOUNT, "bpf", 0, "mode=0700")) {
			err = -errno;
			pr_err("cannot mount bpffs on %s: %s", BPFFS_DEFAULT_MOUNT, strerror(-err));
			return err;
		}
		pr_info("mounted bpffs on %s", BPFFS_DEFAULT_MOUNT);
	}
	err = mkdir_p(dir, 0700);
	if (err) {
		pr_err("cannot create %s: %s", dir, strerror(-err));
		return err;
	}
	if (!path_on_bpffs(dir)) {
		pr_err("%s is not on a bpf filesystem (mount one: mount -t bpf bpf DIR)", dir);
		return -ENOTSUP;
	}
	return 0;
}

static int pin_path(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/*
 * Is a seed of the per-host tables' sets pinned under @dir? Zero is none: a
 * start that pinned the map died before it drew the seed.
 */
static bool host_seed_pinned(const char *dir)
{
	struct pd_host_seed s = {};
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd;

	if (pin_path(path, sizeof(path), dir, PD_MAP_HOST_SEED))
		return false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	if (bpf_map_lookup_elem(fd, &zero, &s))
		s.seed = 0;
	close(fd);
	return s.seed != 0;
}

/*
 * Size a per-host table to --hosts, @per_entry hosts to an entry (a set of
 * ways, or one host). A pinned table of another size or shape (an older
 * build's: another type or value), or one whose sets' seed is gone (@unseeded),
 * cannot be reused; it is dropped with a warning rather than refusing to
 * start: its contents are soft state (a missing bucket is a full one; per-host
 * counters, quota use and blocks start over): @what says which, for the
 * warning. Returns 1 when a pinned table is dropped, 0 when there is none or
 * it is reused, or -errno.
 */
static int host_table_size(struct bpf_map *map, const char *dir, unsigned int hosts,
			   unsigned int per_entry, bool unseeded, const char *what)
{
	unsigned int entries = per_entry > 1 ? pd_host_sets(hosts) : hosts;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	err = bpf_map__set_max_entries(map, entries);
	if (err)
		return err;
	err = pin_path(path, sizeof(path), dir, bpf_map__name(map));
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return 0;
	if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
	    info.value_size != bpf_map__value_size(map) ||
	    info.map_flags != bpf_map__map_flags(map)) {
		pr_warn("per-host table %s is of an older layout: recreated (%s)", path, what);
	} else if (info.max_entries != entries) {
		pr_warn("per-host table %s holds %llu hosts, --hosts %u asks for %llu: recreated (%s)",
			path, (unsigned long long)info.max_entries * per_entry, hosts,
			(unsigned long long)entries * per_entry, what);
	} else if (unseeded) {
		pr_warn("per-host table %s has lost its seed (%s is gone): recreated (%s)", path,
			PD_MAP_HOST_SEED, what);
	} else {
		return 0;
	}
	if (unlink(path))
		return -errno;
	return 1;
}

/* A per-host table made anew starts with no host: its evictions start over with it. */
static int misc_hosts_restart(struct policy_bpf *skel, int ncpus, bool v4, bool v6)
{
	struct pd_misc_stats *v;
	__u32 zero = 0;
	int err = 0;

	if (!v4 && !v6)
		return 0;
	v = calloc(ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map__lookup_elem(skel->maps.pd_misc_stats, &zero, sizeof(zero), v,
				 ncpus * sizeof(*v), 0)) {
		err = -errno;
		goto out;
	}
	for (int i = 0; i < ncpus; i++) {
		if (v4)
			v[i].hosts_evicted4 = 0;
		if (v6)
			v[i].hosts_evicted6 = 0;
	}
	if (bpf_map__update_elem(skel->maps.pd_misc_stats, &zero, sizeof(zero), v,
				 ncpus * sizeof(*v), BPF_EXIST))
		err = -errno;
out:
	if (err)
		pr_err("cannot reset %s: %s", PD_MAP_MISC_STATS, strerror(-err));
	free(v);
	return err;
}

/* A random, nonzero 64-bit word into *@v, for @what (the error message's). */
static int random_nonzero(__u64 *v, const char *what)
{
	ssize_t n;

	do {
		n = getrandom(v, sizeof(*v), 0);
		if (n < 0 && errno != EINTR) {
			n = -errno;
			pr_err("cannot draw %s: %s", what, strerror((int)-n));
			return (int)n;
		}
	} while (n != sizeof(*v) || !*v);
	return 0;
}

/* A random, nonzero seed for the per-host tables' sets, made with them. */
static int host_seed_init(struct policy_bpf *skel)
{
	struct pd_host_seed s = {};
	__u32 zero = 0;
	int err;

	err = random_nonzero(&s.seed, "the per-host tables' seed");
	if (err)
		return err;
	if (bpf_map__update_elem(skel->maps.pd_host_seed, &zero, sizeof(zero), &s, sizeof(s),
				 BPF_ANY)) {
		err = -errno;
		pr_err("cannot write %s: %s", PD_MAP_HOST_SEED, strerror(-err));
		return err;
	}
	return 0;
}

/*
 * This start's pd_config fields besides the epoch and flags (which a reused
 * pd_config keeps): the event cap, the coarse clock's tick (PD_COARSE_TICKS; a
 * tick of a second or more, or none known, and every limit reads the ns clock),
 * and a fresh explain key, random and nonzero, so only this daemon's explain
 * runs (which read it from the map) use it.
 */
static int config_init(struct policy_bpf *skel, struct pd_config *cfg)
{
	struct timespec res;
	__u32 zero = 0;
	ssize_t n;

	cfg->event_cap = PD_DEFAULT_EVENT_CAP;
	cfg->coarse_ns = 0;
	if (!clock_getres(CLOCK_MONOTONIC_COARSE, &res) && !res.tv_sec)
		cfg->coarse_ns = (__u32)res.tv_nsec;
	n = random_nonzero(&cfg->explain_key, "the explain key");
	if (n)
		return (int)n;
	if (bpf_map__update_elem(skel->maps.pd_config, &zero, sizeof(zero), cfg, sizeof(*cfg),
				 BPF_ANY)) {
		n = -errno;
		pr_err("cannot write %s: %s", PD_MAP_CONFIG, strerror((int)-n));
		return (int)n;
	}
	return 0;
}

/* Map the table of sets @map, of @ways ways, whose sets @seed chooses, into @t. */
static int set_table_map(struct bpf_map *map, size_t ways, uint64_t seed, struct set_table *t)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (size_t)bpf_map__max_entries(map) * bpf_map__value_size(map);
	void *p;

	len = (len + page - 1) / page * page;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
	if (p == MAP_FAILED) {
		int err = -errno;

		pr_err("cannot map %s: %s", bpf_map__name(map), strerror(-err));
		return err;
	}
	*t = (struct set_table){ .base = p,
				 .len = len,
				 .sets = bpf_map__max_entries(map),
				 .ways = ways,
				 .way_size = bpf_map__value_size(map) / ways,
				 .seed = seed };
	return 0;
}

static void set_table_unmap(struct set_table *t)
{
	if (t->base)
		munmap(t->base, t->len);
	*t = (struct set_table){ 0 };
}

static uint64_t *set_table_key(const struct set_table *t, size_t pos)
{
	return (uint64_t *)(t->base + pos * t->way_size);
}

void *set_table_val(const struct set_table *t, size_t pos)
{
	return (uint8_t *)set_table_key(t, pos) + sizeof(struct pd_host_key);
}

/* The first word of the key at @pos, if it holds one (0 if free or being taken). */
static uint64_t set_table_w0(const struct set_table *t, size_t pos)
{
	uint64_t w0 = __atomic_load_n(set_table_key(t, pos), __ATOMIC_ACQUIRE);

	return w0 == PD_BUCKET_BUSY ? 0 : w0;
}

/* The way at @pos as it is now, or false when it is free or being taken. The
 * first word is read before and after the rest: a way taken for another key
 * in between is skipped. */
static bool set_table_read(const struct set_table *t, size_t pos, void *key, void *val)
{
	uint64_t *wk = set_table_key(t, pos), w0, k[3];
	const uint64_t *v = set_table_val(t, pos);
	uint64_t *out = val;

	w0 = set_table_w0(t, pos);
	if (!w0)
		return false;
	k[0] = w0;
	k[1] = __atomic_load_n(&wk[1], __ATOMIC_RELAXED);
	k[2] = __atomic_load_n(&wk[2], __ATOMIC_RELAXED);
	for (size_t i = 0; i < (t->way_size - sizeof(k)) / sizeof(uint64_t); i++)
		out[i] = __atomic_load_n(&v[i], __ATOMIC_RELAXED);
	if (__atomic_load_n(&wk[0], __ATOMIC_ACQUIRE) != w0)
		return false;
	memcpy(key, k, sizeof(k));
	return true;
}

bool set_table_next(const struct set_table *t, size_t *pos, void *key, void *val)
{
	while (*pos < t->sets * t->ways)
		if (set_table_read(t, (*pos)++, key, val))
			return true;
	return false;
}

int set_table_find(const struct set_table *t, const void *key, void *val)
{
	size_t set = host_key_set_index(key, t->seed, (uint32_t)t->sets);
	struct pd_host_key k;

	for (size_t w = 0; w < t->ways; w++)
		if (set_table_read(t, set * t->ways + w, &k, val) && !memcmp(&k, key, sizeof(k)))
			return 0;
	return -ENOENT;
}

/* Ways of @t holding a key. */
static size_t set_table_used(const struct set_table *t)
{
	size_t n = 0;

	for (size_t pos = 0; pos < t->sets * t->ways; pos++)
		n += !!set_table_w0(t, pos);
	return n;
}

bool set_table_free(struct set_table *t, size_t pos, const void *key)
{
	uint64_t k0;

	memcpy(&k0, key, sizeof(k0));
	/* From this key only: the way may have gone to another since. */
	return __atomic_compare_exchange_n(set_table_key(t, pos), &k0, 0, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_RELAXED);
}

int maps_open(struct daemon *d)
{
	struct policy_bpf *skel = NULL;
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	struct pd_config cfg = {};
	struct bpf_map *map;
	char path[PATH_MAX];
	int err, remade4 = 0, remade6 = 0;
	uint64_t seed = 0;
	bool seeded;
	__u32 zero = 0;

	err = bpffs_prepare(d->opts.bpffs_dir);
	if (err)
		return err;

	skel = policy_bpf__open();
	if (!skel) {
		err = -errno;
		pr_err("cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	/* Pinned maps are reused when present and compatible: counters,
	 * the live generation and every applied entry survive a restart. */
	bpf_object__for_each_map(map, skel->obj) {
		/* .rodata is configuration of this program, not state. */
		if (bpf_map__is_internal(map))
			continue;
		err = pin_path(path, sizeof(path), d->opts.bpffs_dir, bpf_map__name(map));
		if (!err)
			err = bpf_map__set_pin_path(map, path);
		if (err) {
			pr_err("cannot set the pin path of map %s: %s", bpf_map__name(map),
			       strerror(-err));
			goto out;
		}
	}
	/* The per-host tables' sets are only found by the seed they were made
	 * with: the tables go when it is gone, and a new seed comes with new ones. */
	seeded = host_seed_pinned(d->opts.bpffs_dir);
	err = host_table_size(skel->maps.pd_host_buckets, d->opts.bpffs_dir, d->opts.hosts,
			      PD_BUCKET_WAYS, !seeded, "its per-host state starts over");
	if (err >= 0)
		err = host_table_size(skel->maps.pd_hosts, d->opts.bpffs_dir, d->opts.hosts,
				      PD_HOSTS_WAYS, !seeded, "its per-host state starts over");
	if (err >= 0)
		err = remade4 =
			host_table_size(skel->maps.pd_dcache4, d->opts.bpffs_dir, d->opts.hosts,
					PD_HOST_WAYS, !seeded, "its per-host counters start over");
	if (err >= 0)
		err = remade6 =
			host_table_size(skel->maps.pd_dcache6, d->opts.bpffs_dir, d->opts.hosts,
					PD_HOST_WAYS, !seeded, "its per-host counters start over");
	if (err < 0)
		goto out;
	skel->rodata->pd_host_sets_mask = bpf_map__max_entries(skel->maps.pd_dcache4) - 1;
	skel->rodata->pd_bucket_sets_mask = bpf_map__max_entries(skel->maps.pd_host_buckets) - 1;
	skel->rodata->pd_hosts_sets_mask = bpf_map__max_entries(skel->maps.pd_hosts) - 1;
	err = policy_bpf__load(skel);
	if (err) {
		pr_err("cannot load the BPF program (pinned maps from an incompatible version under %s must be removed first): %s",
		       d->opts.bpffs_dir, strerror(-err));
		goto out;
	}

	d->prog_fd = bpf_program__fd(skel->progs.policyd_out);
	err = bpf_obj_get_info_by_fd(d->prog_fd, &info, &info_len);
	if (err) {
		err = -errno;
		pr_err("cannot read the program's id: %s", strerror(-err));
		goto out;
	}
	d->prog_id = info.id;
	/* The kernel compares BPF encaps by name only: a name that carries
	 * the program id makes a route replace really swap programs. */
	snprintf(d->route_name, sizeof(d->route_name), "policyd-%u", info.id);

	err = pin_path(path, sizeof(path), d->opts.bpffs_dir, "prog");
	if (err)
		goto out;
	if (unlink(path) && errno != ENOENT) {
		err = -errno;
		pr_err("cannot replace the program pin %s: %s", path, strerror(-err));
		goto out;
	}
	err = bpf_program__pin(skel->progs.policyd_out, path);
	if (err) {
		pr_err("cannot pin the program at %s: %s", path, strerror(-err));
		goto out;
	}

	/* A reused pd_config tells which generation packets use now. */
	if (bpf_map__lookup_elem(skel->maps.pd_config, &zero, sizeof(zero), &cfg, sizeof(cfg), 0)) {
		err = -errno;
		pr_err("cannot read %s: %s", PD_MAP_CONFIG, strerror(-err));
		goto out;
	}
	d->epoch = cfg.epoch;
	d->ncpus = libbpf_num_possible_cpus();
	if (d->ncpus <= 0) {
		err = d->ncpus ? d->ncpus : -EINVAL;
		goto out;
	}
	err = misc_hosts_restart(skel, d->ncpus, remade4 > 0, remade6 > 0);
	if (!err && !seeded)
		err = host_seed_init(skel);
	if (!err)
		err = host_seed_read(bpf_map__fd(skel->maps.pd_host_seed), &seed);
	if (!err)
		err = config_init(skel, &cfg);
	if (!err)
		err = set_table_map(skel->maps.pd_host_buckets, PD_BUCKET_WAYS, seed, &d->buckets);
	if (!err)
		err = set_table_map(skel->maps.pd_hosts, PD_HOSTS_WAYS, seed, &d->hosts);
	if (err)
		goto out;
	d->skel = skel;
	skel = NULL;
	pr_info("program %s loaded (id %u), maps pinned under %s, epoch %u", PD_PROG_NAME,
		d->prog_id, d->opts.bpffs_dir, d->epoch);
	err = 0;
out:
	policy_bpf__destroy(skel);
	return err;
}

void maps_close(struct daemon *d)
{
	/* Closing our fds leaves the pinned maps and program, and the routes'
	 * references, in place: enforcement goes on without the daemon. */
	set_table_unmap(&d->buckets);
	set_table_unmap(&d->hosts);
	policy_bpf__destroy(d->skel);
	d->skel = NULL;
	d->prog_fd = -1;
}

static void dest_key(struct pd_dest_key *k, uint32_t gen, const struct prefix *p)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = PD_DEST_KEY_HDR_BITS + p->len;
	k->gen = gen;
	k->family = p->family;
	memcpy(k->addr, p->addr, sizeof(k->addr));
}

static void src_key(struct pd_src_key *k, uint32_t gen, uint32_t slot, uint8_t rule,
		    const struct prefix *p)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = PD_SRC_KEY_HDR_BITS + p->len;
	k->gen = gen;
	k->family = p->family;
	k->rule = rule;
	k->slot = slot;
	memcpy(k->addr, p->addr, sizeof(k->addr));
}

/* Both generation-tagged tries carry the generation in the first byte
 * after prefixlen. */
_Static_assert(offsetof(struct pd_dest_key, gen) == 4, "pd_dest_key.gen");
_Static_assert(offsetof(struct pd_src_key, gen) == 4, "pd_src_key.gen");

/* Delete every entry of generation @gen from a generation-tagged trie
 * (start-up, or undoing a failed write: what is there is unknown). Keys are
 * collected first: deleting while walking would restart the walk. */
static int trie_clear_gen(struct bpf_map *map, uint32_t gen)
{
	size_t ksz = bpf_map__key_size(map), n = 0, cap = 0;
	int fd = bpf_map__fd(map), err = 0;
	uint8_t key[64], next[64], *doomed = NULL;
	void *prev = NULL;

	if (ksz > sizeof(key))
		return -E2BIG;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		if (next[4] == gen) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 1024;
				void *tmp = realloc(doomed, ncap * ksz);

				if (!tmp) {
					err = -ENOMEM;
					goto out;
				}
				doomed = tmp;
				cap = ncap;
			}
			memcpy(doomed + n++ * ksz, next, ksz);
		}
		memcpy(key, next, ksz);
		prev = key;
	}
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_delete_elem(fd, doomed + i * ksz) && errno != ENOENT) {
			err = -errno;
			pr_err("cannot clear generation %u of %s: %s", gen, bpf_map__name(map),
			       strerror(-err));
			goto out;
		}
	}
out:
	free(doomed);
	return err;
}

static int gen_clear_scan(struct daemon *d, uint32_t gen)
{
	int err = trie_clear_gen(d->skel->maps.pd_dest, gen);

	if (!err)
		err = trie_clear_gen(d->skel->maps.pd_src, gen);
	return err;
}

/* Delete the entries of @set in generation @gen. Best effort: a leftover is
 * unreachable (no packet uses that generation) and cleared by the next
 * start-up scan. */
static void gen_clear_set(struct daemon *d, const struct policy_set *set, uint32_t gen)
{
	int dest_fd = bpf_map__fd(d->skel->maps.pd_dest);
	int src_fd = bpf_map__fd(d->skel->maps.pd_src);
	struct pd_dest_key dk;
	struct pd_src_key sk;

	for (size_t i = 0; i < set->n; i++) {
		const struct applied_policy *ap = set->v[i];
		const struct policy *p = ap->pol;

		for (size_t j = 0; j < p->ndests; j++) {
			dest_key(&dk, gen, &p->dests[j]);
			if (bpf_map_delete_elem(dest_fd, &dk) && errno != ENOENT)
				pr_warn("cannot delete a %s entry: %s", PD_MAP_DEST,
					strerror(errno));
		}
		for (size_t r = 0; r < p->nrules; r++) {
			for (size_t j = 0; j < p->rules[r].nsrcs; j++) {
				src_key(&sk, gen, ap->slot, r, &p->rules[r].srcs[j]);
				if (bpf_map_delete_elem(src_fd, &sk) && errno != ENOENT)
					pr_warn("cannot delete a %s entry: %s", PD_MAP_SRC,
						strerror(errno));
			}
		}
	}
}

static int write_policy(struct daemon *d, const struct applied_policy *ap, uint32_t gen,
			struct pd_policy *val)
{
	int dest_fd = bpf_map__fd(d->skel->maps.pd_dest);
	int src_fd = bpf_map__fd(d->skel->maps.pd_src);
	int pol_fd = bpf_map__fd(d->skel->maps.pd_policies);
	const struct policy *p = ap->pol;
	__u32 idx = gen * PD_MAX_POLICIES + ap->slot, one = 1;
	struct pd_dest_val dv = { .policy = ap->slot };
	struct policy_error perr;
	struct pd_dest_key dk;
	struct pd_src_key sk;
	int err;

	err = policy_compile(p, ap->rule_counters, ap->default_counter, val, &perr);
	if (err) {
		pr_err("%s", perr.msg);
		return err;
	}
	if (bpf_map_update_elem(pol_fd, &idx, val, BPF_ANY)) {
		err = -errno;
		pr_err("cannot write policy %s to %s: %s", p->name, PD_MAP_POLICIES,
		       strerror(-err));
		return err;
	}
	for (size_t j = 0; j < p->ndests; j++) {
		dest_key(&dk, gen, &p->dests[j]);
		if (bpf_map_update_elem(dest_fd, &dk, &dv, BPF_NOEXIST)) {
			err = -errno;
			pr_err("cannot write destination %zu of policy %s to %s: %s", j, p->name,
			       PD_MAP_DEST, strerror(-err));
			return err;
		}
	}
	for (size_t r = 0; r < p->nrules; r++) {
		for (size_t j = 0; j < p->rules[r].nsrcs; j++) {
			src_key(&sk, gen, ap->slot, r, &p->rules[r].srcs[j]);
			if (bpf_map_update_elem(src_fd, &sk, &one, BPF_ANY)) {
				err = -errno;
				pr_err("cannot write a src prefix of rule %s of policy %s to %s: %s",
				       p->rules[r].name, p->name, PD_MAP_SRC, strerror(-err));
				return err;
			}
		}
	}
	return 0;
}

static int write_generation(struct daemon *d, const struct policy_set *set, uint32_t gen)
{
	struct pd_policy *val = malloc(sizeof(*val));
	int err = 0;

	if (!val)
		return -ENOMEM;
	for (size_t i = 0; i < set->n && !err; i++)
		err = write_policy(d, set->v[i], gen, val);
	free(val);
	return err;
}

/* A map-in-map update returns only after an RCU grace period: once it
 * returns, no program run that could have read the old generation is still
 * going. */
static int wait_for_packets_in_flight(struct daemon *d)
{
	int inner, err = 0;
	__u32 zero = 0;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pd_sync_inner", 4, 4, 1, NULL);
	if (inner < 0)
		return -errno;
	if (bpf_map_update_elem(bpf_map__fd(d->skel->maps.pd_sync), &zero, &inner, BPF_ANY))
		err = -errno;
	close(inner);
	return err;
}

/* Does a route of @set carry a realm (so the program must count realms)? */
static bool set_has_realm(const struct policy_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		for (size_t j = 0; j < set->v[i]->nroutes; j++)
			if (set->v[i]->routes[j].installed.has_realm)
				return true;
	return false;
}

int maps_commit(struct daemon *d, const struct policy_set *set, const struct policy_set *old)
{
	uint32_t cur = d->epoch % PD_GENERATIONS, next = (d->epoch + 1) % PD_GENERATIONS;
	struct pd_config cfg;
	__u32 zero = 0;
	int err;

	/* Only the epoch and flags change: the event cap and explain key stay. */
	if (bpf_map__lookup_elem(d->skel->maps.pd_config, &zero, sizeof(zero), &cfg, sizeof(cfg),
				 0)) {
		err = -errno;
		pr_err("cannot read %s: %s", PD_MAP_CONFIG, strerror(-err));
		return err;
	}
	cfg.epoch = d->epoch + 1;
	cfg.flags = set_has_realm(set) ? PD_CONFIG_REALMS : 0;

	/* Leftovers in the next generation (a daemon killed mid-commit)
	 * would shadow or add entries: clear them first. */
	if (!old) {
		err = gen_clear_scan(d, next);
		if (err)
			return err;
	}
	err = write_generation(d, set, next);
	if (err)
		goto undo;
	if (bpf_map_update_elem(bpf_map__fd(d->skel->maps.pd_config), &zero, &cfg, BPF_ANY)) {
		err = -errno;
		pr_err("cannot switch to generation %u: %s", next, strerror(-err));
		goto undo;
	}
	err = wait_for_packets_in_flight(d);
	if (err)
		pr_warn("cannot wait for in-flight packets (%s); clearing the old generation anyway",
			strerror(-err));
	if (old)
		gen_clear_set(d, old, cur);
	else
		gen_clear_scan(d, cur);
	d->epoch++;
	pr_debug("epoch %u (generation %u): %zu destinations", d->epoch, next,
		 policy_set_ndests(set));
	return 0;
undo:
	gen_clear_scan(d, next);
	return err;
}

static int percpu_zero(struct bpf_map *map, uint32_t idx, size_t value_size, int ncpus)
{
	void *zeros = calloc(ncpus, value_size);
	int err = 0;

	if (!zeros)
		return -ENOMEM;
	if (bpf_map__update_elem(map, &idx, sizeof(idx), zeros, value_size * ncpus, BPF_ANY))
		err = -errno;
	free(zeros);
	return err;
}

int maps_zero_policy_stats(struct daemon *d, uint32_t slot)
{
	return percpu_zero(d->skel->maps.pd_policy_stats, slot, sizeof(struct pd_policy_stats),
			   d->ncpus);
}

int maps_zero_policy_quota(struct daemon *d, uint32_t slot)
{
	struct pd_policy_quota q = {};

	return bpf_map__update_elem(d->skel->maps.pd_policy_quota, &slot, sizeof(slot), &q,
				    sizeof(q), BPF_ANY) ?
		       -errno :
		       0;
}

int maps_zero_counters(struct daemon *d, uint32_t counter)
{
	return percpu_zero(d->skel->maps.pd_rule_stats, counter, sizeof(struct pd_counters),
			   d->ncpus);
}

int maps_zero_rule_stats(struct daemon *d, uint32_t counter)
{
	struct pd_bucket full = { .tat = 0 };

	if (bpf_map__update_elem(d->skel->maps.pd_rule_buckets, &counter, sizeof(counter), &full,
				 sizeof(full), BPF_ANY))
		return -errno;
	return maps_zero_counters(d, counter);
}

uint64_t maps_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec) << PD_TIME_SHIFT;
}

uint64_t maps_bucket_available(const struct pd_limit *l, uint64_t tat, uint64_t now)
{
	uint64_t debt = tat > now ? tat - now : 0;

	if (!l->interval || debt >= l->burst)
		return 0;
	/* Time left in the bucket, over the cost of one packet or byte. */
	return (uint64_t)(((unsigned __int128)(l->burst - debt) << PD_INTERVAL_SHIFT) /
			  l->interval);
}

int maps_read_rule_bucket(struct daemon *d, uint32_t counter, uint64_t *tat)
{
	struct pd_bucket b;

	if (bpf_map__lookup_elem(d->skel->maps.pd_rule_buckets, &counter, sizeof(counter), &b,
				 sizeof(b), 0))
		return -errno;
	*tat = b.tat;
	return 0;
}

int maps_host_bucket(struct daemon *d, const struct pd_host_key *key, uint64_t *tat)
{
	int err = set_table_find(&d->buckets, key, tat);

	if (err)
		*tat = 0;
	return err;
}

size_t maps_gc_host_buckets(struct daemon *d)
{
	struct pd_host_key key;
	uint64_t now = maps_now(), tat;
	size_t pos = 0, n = 0;

	while (set_table_next(&d->buckets, &pos, &key, &tat)) {
		const uint64_t *live = set_table_val(&d->buckets, pos - 1);
		bool stale = key.counter >= PD_MAX_RULE_COUNTERS || !d->counter_used[key.counter];

		/* A host that sent since the read has tat > now: freeing its way
		 * would refill its bucket early (a packet between this test and
		 * the swap still gets at most one packet's worth back). */
		if (!stale && (tat > now || __atomic_load_n(live, __ATOMIC_RELAXED) > now))
			continue;
		n += set_table_free(&d->buckets, pos - 1, &key);
	}
	return n;
}

/* Ways of pd_host_buckets holding a bucket that has not refilled. */
static size_t host_buckets_used(struct daemon *d)
{
	struct pd_host_key key;
	uint64_t now = maps_now(), tat;
	size_t pos = 0, n = 0;

	while (set_table_next(&d->buckets, &pos, &key, &tat))
		n += tat > now;
	return n;
}

/* Both stats values are arrays of __u64: sum them element-wise over CPUs. */
static int percpu_sum(struct bpf_map *map, uint32_t idx, __u64 *out, size_t nwords, int ncpus)
{
	__u64 *vals = calloc(ncpus, nwords * sizeof(__u64));
	int err = 0;

	if (!vals)
		return -ENOMEM;
	if (bpf_map__lookup_elem(map, &idx, sizeof(idx), vals, nwords * sizeof(__u64) * ncpus, 0)) {
		err = -errno;
		goto out;
	}
	memset(out, 0, nwords * sizeof(__u64));
	for (int cpu = 0; cpu < ncpus; cpu++)
		for (size_t w = 0; w < nwords; w++)
			out[w] += vals[cpu * nwords + w];
out:
	free(vals);
	return err;
}

int maps_read_policy_stats(struct daemon *d, uint32_t slot, struct pd_policy_stats *out)
{
	return percpu_sum(d->skel->maps.pd_policy_stats, slot, (__u64 *)out,
			  sizeof(*out) / sizeof(__u64), d->ncpus);
}

int maps_read_rule_stats(struct daemon *d, uint32_t counter, struct pd_counters *out)
{
	return percpu_sum(d->skel->maps.pd_rule_stats, counter, (__u64 *)out,
			  sizeof(*out) / sizeof(__u64), d->ncpus);
}

int maps_read_misc_stats(struct daemon *d, struct pd_misc_stats *out)
{
	return percpu_sum(d->skel->maps.pd_misc_stats, 0, (__u64 *)out,
			  sizeof(*out) / sizeof(__u64), d->ncpus);
}

/* Entries in a hash map, by walking it (status only). */
static json_t *map_fill(const char *name, size_t used, size_t capacity)
{
	return json_pack("{s:s, s:I, s:I}", "name", name, "used", (json_int_t)used, "capacity",
			 (json_int_t)capacity);
}

json_t *maps_status(struct daemon *d)
{
	size_t counters = 0;
	json_t *maps = json_array();

	for (size_t i = 0; i < PD_MAX_RULE_COUNTERS; i++)
		counters += d->counter_used[i];
	json_array_append_new(maps,
			      map_fill(PD_MAP_DEST, policy_set_ndests(&d->set), PD_MAX_DESTS));
	json_array_append_new(maps, map_fill(PD_MAP_POLICIES, d->set.n, PD_MAX_POLICIES));
	json_array_append_new(maps, map_fill(PD_MAP_RULE_STATS, counters, PD_MAX_RULE_COUNTERS));
	json_array_append_new(maps, map_fill(PD_MAP_HOST_BUCKETS, host_buckets_used(d),
					     d->buckets.sets * d->buckets.ways));
	json_array_append_new(maps, map_fill(PD_MAP_HOSTS, set_table_used(&d->hosts),
					     d->hosts.sets * d->hosts.ways));
	return maps;
}
