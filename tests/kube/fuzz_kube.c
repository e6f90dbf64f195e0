// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * fuzz_kube - libFuzzer target for what the API server sends, from bytes to
 * the agent's callbacks: the input is cut into pieces (the first byte picks
 * their size, as TCP might), fed through one incremental json_tokener the
 * way kube_client.c feeds a watch stream, and every value goes to
 * kube_pods_event(), or to kube_pods_list_page() when it has "items".
 *
 * Checked against a model kept from the callbacks alone: a pod reported
 * upserted is known, one reported deleted is not, the set has one entry
 * per uid in order, and every label the agent is given is a string pair.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube_pods.h"

#define MODEL_MAX 4096

static char *model[MODEL_MAX];
static size_t nmodel;

static size_t model_find(const char *uid)
{
	size_t i;

	for (i = 0; i < nmodel && strcmp(model[i], uid); i++)
		;
	return i;
}

static void on_upsert(void *ctx, const struct kube_pod *p)
{
	size_t i;

	assert(p->uid && p->ns && p->name && p->qos_class && p->phase);
	assert(!p->nlabels == !p->labels);
	for (i = 0; i < p->nlabels; i++)
		assert(p->labels[i].key && p->labels[i].value);
	if (model_find(p->uid) == nmodel && nmodel < MODEL_MAX)
		model[nmodel++] = strdup(p->uid);
}

static void on_delete(void *ctx, const char *uid)
{
	size_t i = model_find(uid);

	assert(i < nmodel); /* only pods reported before go */
	free(model[i]);
	model[i] = model[--nmodel];
}

static void check(const struct kube_pods *p)
{
	size_t i;

	assert(p->n == nmodel);
	for (i = 0; i < p->n; i++) {
		assert(model_find(p->v[i].uid) < nmodel);
		assert(!i || strcmp(p->v[i - 1].uid, p->v[i].uid) < 0);
	}
}

static void value(struct kube_pods *p, json_object *v, bool *listing)
{
	char why[256], *cont = NULL;

	if (json_object_object_get_ex(v, "items", NULL)) {
		if (!*listing)
			kube_pods_list_begin(p);
		*listing = true;
		/*
		 * As the client does: the last page ends a list; a bad one drops
		 * it without deleting anything, and the next list starts anew.
		 */
		if (kube_pods_list_page(p, v, &cont, why, sizeof(why)) < 0) {
			*listing = false;
		} else if (!cont) {
			*listing = false;
			kube_pods_list_end(p);
		}
		free(cont);
	} else {
		kube_pods_event(p, v, why, sizeof(why));
	}
	check(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct kube_callbacks cb = { .pod_upsert = on_upsert, .pod_delete = on_delete };
	struct kube_pods p = { .cb = &cb };
	json_tokener *tok = json_tokener_new_ex(64);
	size_t step, off = 1;
	bool listing = false;

	if (!size || !tok)
		goto cleanup;
	step = data[0] % 64 + 1;
	while (off < size) {
		size_t n = size - off < step ? size - off : step, used = 0;

		while (used < n) {
			json_object *v = json_tokener_parse_ex(tok, (const char *)data + off + used,
							       (int)(n - used));
			enum json_tokener_error e = json_tokener_get_error(tok);

			if (e == json_tokener_continue)
				break;
			if (e != json_tokener_success) {
				json_tokener_reset(tok);
				used = n; /* the client gives up on the stream here */
				break;
			}
			if (!json_tokener_get_parse_end(tok)) {
				json_object_put(v);
				break;
			}
			used += json_tokener_get_parse_end(tok);
			json_tokener_reset(tok);
			if (v)
				value(&p, v, &listing);
			json_object_put(v);
		}
		off += n;
	}
cleanup:
	kube_pods_free(&p);
	while (nmodel)
		free(model[--nmodel]);
	if (tok)
		json_tokener_free(tok);
	return 0;
}
