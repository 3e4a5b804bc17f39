#include "compat.h"

#include "err.h"

const char *err_name(int code)
{
    switch (code) {
    case ERR_OK:
        return "ok";
    case ERR_INVALID:
        return "invalid";
    case ERR_NOTFOUND:
        return "not_found";
    case ERR_CONFLICT:
        return "conflict";
    case ERR_NOCAPACITY:
        return "no_capacity";
    case ERR_FUNDS:
        return "insufficient_funds";
    case ERR_OVERFLOW:
        return "overflow";
    case ERR_NOMEM:
        return "out_of_memory";
    case ERR_IO:
        return "io_error";
    case ERR_EXISTS:
        return "exists";
    }
    return "unknown";
}
