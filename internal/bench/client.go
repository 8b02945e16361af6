package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// conn is one keep-alive HTTP/1.1 connection, used by one worker at a time. It writes each
// request by hand and reads the answer with http.ReadResponse: the load generator shares the
// machine with the server, so it spends as little CPU per request as it can (net/http's
// client costs two goroutine hand-offs per request), much as wrk does.
type conn struct {
	addr string // addr is host:port to dial.
	host string // host is the Host header.

	c    net.Conn
	br   *bufio.Reader
	req  []byte // req is the request being written, reused.
	body []byte // body is the last answer's body, reused.
	used bool   // used: c has carried a request, so a failure on it may be a stale keep-alive.
}

func newConn(addr, host string) *conn {
	return &conn{addr: addr, host: host, req: make([]byte, 0, 1024), body: make([]byte, 0, 4096)}
}

// request is one HTTP request: headers are complete lines, each ending in \r\n.
type request struct {
	method  string
	path    string
	headers string
	body    []byte
}

// do sends r and returns the status and the body (valid until the next call). A failure on a
// reused connection before any answer byte is retried once on a new connection, as net/http
// does: the server may have closed an idle keep-alive connection.
func (c *conn) do(r *request) (int, []byte, error) {
	status, body, retry, err := c.try(r)
	if retry {
		status, body, _, err = c.try(r)
	}
	return status, body, err
}

func (c *conn) try(r *request) (status int, body []byte, retry bool, err error) {
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return 0, nil, false, err
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		c.c, c.used = nc, false
		if c.br == nil {
			c.br = bufio.NewReaderSize(nc, 16<<10)
		} else {
			c.br.Reset(nc)
		}
	}
	reused := c.used
	c.used = true
	b := c.req[:0]
	b = append(b, r.method...)
	b = append(b, ' ')
	b = append(b, r.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\nUser-Agent: payvault-bench\r\n"...)
	b = append(b, r.headers...)
	if r.body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(r.body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, r.body...)
	c.req = b
	if _, err := c.c.Write(b); err != nil {
		c.close()
		return 0, nil, reused, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		// Nothing read yet on a reused connection: the server closed it while idle.
		stale := reused && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF))
		c.close()
		return 0, nil, stale, err
	}
	c.body, err = readBody(c.body[:0], resp)
	resp.Body.Close()
	if err != nil {
		c.close()
		return 0, nil, false, fmt.Errorf("read body: %w", err)
	}
	if resp.Close {
		c.close()
	}
	return resp.StatusCode, c.body, false, nil
}

// readBody appends resp's body to buf.
func readBody(buf []byte, resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 {
		if int64(cap(buf)) < n {
			buf = make([]byte, 0, n)
		}
		buf = buf[:n]
		_, err := io.ReadFull(resp.Body, buf)
		return buf, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (c *conn) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}
