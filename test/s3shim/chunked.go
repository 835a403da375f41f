package s3shim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// isAWSChunked reports whether a request body uses the aws-chunked content
// encoding (streaming SigV4 payloads or trailing checksums).
func isAWSChunked(h http.Header) bool {
	if strings.HasPrefix(h.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		return true
	}
	for _, v := range h.Values("Content-Encoding") {
		for _, enc := range strings.Split(v, ",") {
			if strings.TrimSpace(enc) == "aws-chunked" {
				return true
			}
		}
	}
	return false
}

// decodeAWSChunked returns the payload of an aws-chunked body: chunks of
// "<hex size>[;chunk-signature=...]\r\n<data>\r\n", a final chunk of size 0,
// then optional trailer lines. Signatures and trailers are not checked: the
// backend has already authenticated the request.
func decodeAWSChunked(body []byte) ([]byte, error) {
	r := bufio.NewReader(bytes.NewReader(body))
	var out bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("read aws-chunked chunk header: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		sizeText, _, _ := strings.Cut(line, ";")
		size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("parse aws-chunked chunk size %q: %w", sizeText, err)
		}
		if size == 0 {
			return out.Bytes(), nil
		}
		if _, err := io.CopyN(&out, r, size); err != nil {
			return nil, fmt.Errorf("read aws-chunked chunk of %d bytes: %w", size, err)
		}
		crlf := make([]byte, 2)
		if _, err := io.ReadFull(r, crlf); err != nil || string(crlf) != "\r\n" {
			return nil, fmt.Errorf("aws-chunked chunk not followed by CRLF")
		}
	}
}
