/*
 * inifile.c - ini files through inih, line by line, with FILE:LINE
 * errors (see inifile.h for why and how).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/inifile.h"
#include "vtier/util.h"

int
ini_file_fail(struct ini_file *f, int line, int rc, const char *fmt, ...)
{
	size_t off = 0;
	va_list ap;

	if (f->err_rc != 0)
		return rc;
	f->err_line = line;
	f->err_rc = rc;
	if (f->err == NULL || f->errlen == 0)
		return rc;
	f->err[0] = '\0';
	if (f->path != NULL && line > 0)
		off = (size_t)snprintf(f->err, f->errlen, "%s:%d: ", f->path,
		    line);
	else if (f->path != NULL)
		off = (size_t)snprintf(f->err, f->errlen, "%s: ", f->path);
	if (off < f->errlen) {
		va_start(ap, fmt);
		vsnprintf(f->err + off, f->errlen - off, fmt, ap);
		va_end(ap);
	}
	return rc;
}

const char *
ini_shown(const char *value, char *buf, size_t len)
{
	if (strlen(value) <= INI_SHOWN_MAX)
		return value;
	snprintf(buf, len, "%.*s...", INI_SHOWN_MAX, value);
	return buf;
}

void
ini_format_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
}

/* A "[...]" line: nothing but a comment after ']'; then the caller's. */
static void
header(struct ini_file *f, const char *line, size_t len)
{
	const char *close = memchr(line, ']', len), *rest;

	if (close == NULL) {
		if (f->header != NULL)
			f->header(f->arg, NULL, 0);
		return;
	}
	rest = close + 1;
	rest += strspn(rest, " \t\r\n");
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		ini_file_fail(f, f->lineno, -EINVAL, "text after the section "
		    "header (expected a comment or nothing)");
		return;
	}
	if (f->header != NULL)
		f->header(f->arg, line + 1, (size_t)(close - line - 1));
}

/* The line reader inih pulls the file through; NULL ends the parse. */
char *
ini_file_reader(char *str, int num, void *stream)
{
	struct ini_file *f = stream;
	const char *line, *nl, *end;
	size_t len;

	if (f->pos >= f->len || f->err_rc != 0)
		return NULL;
	line = f->buf + f->pos;
	nl = memchr(line, '\n', f->len - f->pos);
	end = nl != NULL ? nl : f->buf + f->len;
	f->pos = (size_t)(end - f->buf) + (nl != NULL);
	f->lineno++;
	if (memchr(line, '\0', (size_t)(end - line)) != NULL) {
		ini_file_fail(f, f->lineno, -EINVAL, "NUL byte in line "
		    "(expected text)");
		return NULL;
	}
	if (f->lineno == 1 && end - line >= 3 &&
	    memcmp(line, "\xef\xbb\xbf", 3) == 0)
		line += 3;
	while (line < end && (*line == ' ' || *line == '\t'))
		line++;
	len = (size_t)(end - line);
	if (num < 2 || len > (size_t)num - 2) {
		ini_file_fail(f, f->lineno, -EINVAL, "line too long (expected "
		    "at most %d characters)", num - 2);
		return NULL;
	}
	memcpy(str, line, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	if (*str == '[')
		header(f, str, len);
	return str;
}

int
ini_file_open(struct ini_file *f, size_t max_bytes, char *err, size_t errlen)
{
	char *buf;
	ssize_t n;
	int rc;

	f->err = err;
	f->errlen = errlen;
	f->err_line = f->err_rc = 0;
	f->lineno = 0;
	f->pos = 0;
	f->buf = NULL;
	f->len = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((buf = malloc(max_bytes + 1)) == NULL)
		return ini_file_fail(f, 0, -ENOMEM, "out of memory");
	if ((n = read_file(f->path, buf, max_bytes + 1)) < 0) {
		rc = (int)n;
		if (rc == -EFBIG)
			ini_file_fail(f, 0, rc, "larger than %zu bytes "
			    "(expected a config file)", max_bytes);
		else
			ini_file_fail(f, 0, rc, "%s", strerror(-rc));
		free(buf);
		return rc;
	}
	f->buf = buf;
	f->len = (size_t)n;
	return 0;
}

/*
 * inih's own result is the line of its first syntax error (one the
 * reader and handler saw nothing wrong with): whichever error comes
 * first in the file is the one reported.
 */
int
ini_file_close(struct ini_file *f, int rc)
{
	if (rc > 0 && (f->err_line == 0 || rc < f->err_line)) {
		f->err_rc = 0;
		rc = ini_file_fail(f, rc, -EINVAL, "syntax error (expected %s)",
		    f->syntax_hint != NULL ? f->syntax_hint : "[section], key "
		    "= value, or a comment starting with # or ;");
	} else if (rc < 0) {
		rc = ini_file_fail(f, 0, rc == -2 ? -ENOMEM : -EIO,
		    "inih failed (%d)", rc);
	} else {
		rc = f->err_rc;
	}
	free(f->buf);
	f->buf = NULL;
	f->len = 0;
	return rc;
}
