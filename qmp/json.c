/* Typed access to QMP replies: nothing here trusts the peer's JSON types. */

#include <errno.h>
#include <stdbool.h>

#include "qmp/qmp.h"

const char *qmp_json_type_name(json_type type)
{
	switch (type) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a number";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "of an unknown type";
}

const char *qmp_json_get_string(json_object *obj, const char *key)
{
	json_object *v;

	/* json-c's getters accept any type and assert on some: check first. */
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int qmp_json_get_bool(json_object *obj, const char *key, bool *out)
{
	json_object *v;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_boolean))
		return -EBADMSG;
	*out = json_object_get_boolean(v);
	return 0;
}
