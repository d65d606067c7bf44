package google

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	segjson "github.com/segmentio/encoding/json"
	"google.golang.org/api/googleapi"

	"github.com/mailcal/mailcal/providers"
)

// The hot reads make their requests and decode Google's answers
// themselves: messages.list, events.list and messages.get in full
// (getJSON), and the calls of a batch (batch.go). The
// client library reads an answer whole and decodes it with encoding/json,
// which on these answers took about a sixth of the server's CPU time under
// load; decodeJSON is segmentio's drop-in decoder (the one the official MCP
// Go SDK uses), four to five times quicker on them and sparing in
// allocations. Its errors are encoding/json's types. The client library
// stays the owner of every other request.

// maxAnswer bounds the bytes read of one answer: the largest Gmail message
// in full (25 MB of mail, base64 in JSON) with room.
const maxAnswer = 64 << 20

// decodeJSON decodes a JSON answer into v.
func decodeJSON(data []byte, v any) error { return segjson.Unmarshal(data, v) }

// getJSON GETs u through the account's client hc and decodes the 2xx
// answer into v. Another status is the client library's *googleapi.Error.
func getJSON(ctx context.Context, hc *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "mailcal")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := googleapi.CheckResponse(resp); err != nil {
		return err
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if err := readAnswer(buf, resp.Body, maxAnswer); err != nil {
		return err
	}
	return decodeJSON(buf.Bytes(), v)
}

// readAnswer reads a body of at most limit bytes into buf.
func readAnswer(buf *bytes.Buffer, r io.Reader, limit int64) error {
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return err
	}
	if n > limit {
		return &providers.Error{Kind: providers.ErrInvalidAnswer, Message: fmt.Sprintf("Google's answer is larger than %d MB", limit>>20)}
	}
	return nil
}

// Answers are read into pooled buffers: decodeJSON copies what it keeps
// (segmentio's decoder copies strings unless told not to), so a buffer is
// free again once its answer is decoded. Buffers that grew past
// maxPooledBuffer are left to the collector.
var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 1 << 20

func getBuffer() *bytes.Buffer { return answerBuffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	answerBuffers.Put(b)
}
