//go:build integration

package integration

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// A minimal but real RFC 6455 implementation: the opening handshake on both
// sides and single (unfragmented) frames, masked from client to server.

const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// WebSocket opcodes used here.
const (
	opText  = 0x1
	opClose = 0x8
)

// websocketAccept computes Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func websocketAccept(key string) string {
	sum := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// writeFrame writes one final frame. Client frames must be masked.
func writeFrame(w io.Writer, opcode byte, payload []byte, masked bool) error {
	header := []byte{0x80 | opcode}
	maskBit := byte(0)
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		header = append(header, maskBit|byte(n))
	case n <= 0xFFFF:
		header = append(header, maskBit|126)
		header = binary.BigEndian.AppendUint16(header, uint16(n))
	default:
		header = append(header, maskBit|127)
		header = binary.BigEndian.AppendUint64(header, uint64(n))
	}
	data := payload
	if masked {
		var key [4]byte
		if _, err := rand.Read(key[:]); err != nil {
			return err
		}
		header = append(header, key[:]...)
		data = make([]byte, len(payload))
		for i, c := range payload {
			data[i] = c ^ key[i%4]
		}
	}
	_, err := w.Write(append(header, data...))
	return err
}

// wsFrame is one received frame.
type wsFrame struct {
	Fin     bool
	Opcode  byte
	Masked  bool
	Payload []byte // unmasked
}

// readFrame reads one frame (up to 1 MiB of payload).
func readFrame(r io.Reader) (wsFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return wsFrame{}, err
	}
	f := wsFrame{Fin: h[0]&0x80 != 0, Opcode: h[0] & 0x0F, Masked: h[1]&0x80 != 0}
	if h[0]&0x70 != 0 {
		return f, errors.New("websocket: reserved bits set")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > 1<<20 {
		return f, fmt.Errorf("websocket: frame of %d bytes is too large", n)
	}
	var key [4]byte
	if f.Masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return f, err
		}
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return f, err
	}
	if f.Masked {
		for i := range f.Payload {
			f.Payload[i] ^= key[i%4]
		}
	}
	return f, nil
}

// wsClient is the client end of an open WebSocket.
type wsClient struct {
	conn     net.Conn
	reader   *bufio.Reader
	Response *http.Response // the 101 response
}

// dialWebSocket opens a WebSocket to rawURL (http:// form) with extra
// request headers. It returns an error if the server does not answer the
// handshake with a valid 101; resp is set whenever a response was read.
func dialWebSocket(rawURL string, header http.Header) (*wsClient, *http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		conn.Close()
		return nil, nil, err
	}
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: header.Clone()}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		conn.Close()
		return nil, resp, fmt.Errorf("websocket handshake: status %s, body %q", resp.Status, body)
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), websocketAccept(key); got != want {
		conn.Close()
		return nil, resp, fmt.Errorf("websocket handshake: Sec-WebSocket-Accept %q, want %q", got, want)
	}
	return &wsClient{conn: conn, reader: br, Response: resp}, resp, nil
}

// SendText sends a masked text frame.
func (c *wsClient) SendText(s string) error { return writeFrame(c.conn, opText, []byte(s), true) }

// Read reads the next frame from the server.
func (c *wsClient) Read() (wsFrame, error) { return readFrame(c.reader) }

// Close sends a close frame (status 1000), waits briefly for the server's
// close frame and closes the connection.
func (c *wsClient) Close() error {
	defer c.conn.Close()
	if err := writeFrame(c.conn, opClose, []byte{0x03, 0xE8}, true); err != nil {
		return err
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		f, err := readFrame(c.reader)
		if err != nil {
			return err
		}
		if f.Opcode == opClose {
			return nil
		}
	}
}
