// Command s3server is an S3-protocol server for papyrad's tests: gofakes3 (objects in memory,
// multipart uploads, server-side copies, Content-MD5 checked) behind a front that does what a
// real service does and gofakes3 does not:
//
//   - every request must carry an AWS Signature Version 4 made with the one access key the
//     server knows; the front signs the request again with the AWS SDK's signer and refuses
//     it (403) unless both signatures agree;
//   - a body signed by its SHA-256 (x-amz-content-sha256) must hash to it, and a body sent
//     with x-amz-checksum-sha256 must match it (400 BadDigest otherwise); streaming payloads
//     are refused;
//   - every PUT's Object Lock, server-side encryption, checksum algorithm and copy source
//     headers are appended, one JSON line per request, to the file -headers names, for tests
//     to read.
//
// It listens on -addr (127.0.0.1:0 by default; HTTPS with a self-signed certificate with
// -tls-cert) and prints "listening <host:port>" once ready.
// -die-after N makes the process exit abruptly once N bytes of request bodies have come in,
// in the middle of the request: a server dying during an upload. -parts-ok N answers every
// part upload after the first N with 500 InternalError: a server failing mid-upload. The credentials come from
// the environment (S3SERVER_ACCESS_KEY, S3SERVER_SECRET_KEY), never from the command line.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	buckets := flag.String("buckets", "", "comma-separated buckets to create")
	headers := flag.String("headers", "", "file to append the Object Lock and encryption headers of PUTs to")
	dieAfter := flag.Int64("die-after", 0, "exit abruptly once this many request body bytes came in (0: never)")
	partsOK := flag.Int("parts-ok", -1, "answer 500 InternalError to every part upload after this many (-1: never)")
	certOut := flag.String("tls-cert", "", "serve HTTPS with a new self-signed certificate for 127.0.0.1, written (PEM) to this file")
	flag.Parse()
	f := &front{
		access: os.Getenv("S3SERVER_ACCESS_KEY"), secret: os.Getenv("S3SERVER_SECRET_KEY"),
		headers: *headers, dieAfter: *dieAfter, partsOK: *partsOK,
	}
	if f.access == "" || f.secret == "" {
		fmt.Fprintln(os.Stderr, "s3server: S3SERVER_ACCESS_KEY and S3SERVER_SECRET_KEY must be set")
		os.Exit(2)
	}
	backend := s3mem.New()
	for _, b := range strings.Split(*buckets, ",") {
		if b != "" {
			if err := backend.CreateBucket(b); err != nil {
				fmt.Fprintln(os.Stderr, "s3server:", err)
				os.Exit(1)
			}
		}
	}
	f.next = gofakes3.New(backend, gofakes3.WithIntegrityCheck(true), gofakes3.WithoutVersioning()).Server()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	if *certOut != "" {
		cert, err := selfSigned(*certOut)
		if err != nil {
			fmt.Fprintln(os.Stderr, "s3server:", err)
			os.Exit(1)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	fmt.Printf("listening %s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
}

type front struct {
	access, secret string
	headers        string
	dieAfter       int64
	partsOK        int
	next           http.Handler

	mu       sync.Mutex
	received int64
}

// s3Error writes an S3 error document.
func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := f.readBody(r)
	if err != nil {
		s3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	if status, code, msg := f.checkSignature(r, body); status != 0 {
		s3Error(w, status, code, msg)
		return
	}
	if c := r.Header.Get("X-Amz-Checksum-Sha256"); c != "" && r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == "" {
		sum := sha256.Sum256(body)
		if c != base64.StdEncoding.EncodeToString(sum[:]) {
			s3Error(w, http.StatusBadRequest, "BadDigest", "The SHA256 you specified did not match the calculated checksum.")
			return
		}
	}
	if r.Method == http.MethodPut || r.Method == http.MethodPost {
		f.recordHeaders(r)
	}
	if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") != "" && f.partsOK >= 0 {
		f.mu.Lock()
		fail := f.partsOK == 0
		if !fail {
			f.partsOK--
		}
		f.mu.Unlock()
		if fail {
			s3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	f.next.ServeHTTP(w, r)
}

// readBody reads the request's body, dying in the middle of it if -die-after says so.
func (f *front) readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	chunk := make([]byte, 64<<10)
	for {
		n, err := r.Body.Read(chunk)
		if n > 0 {
			buf.Write(chunk[:n])
			if f.dieAfter > 0 {
				f.mu.Lock()
				f.received += int64(n)
				die := f.received >= f.dieAfter
				f.mu.Unlock()
				if die {
					fmt.Fprintln(os.Stderr, "s3server: dying in the middle of a request, as -die-after asks")
					os.Exit(3)
				}
			}
		}
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// checkSignature verifies the request's Signature Version 4 by signing it again; it returns
// a status, an S3 error code and a message when the request is refused.
func (f *front) checkSignature(r *http.Request, body []byte) (int, string, string) {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return http.StatusForbidden, "AccessDenied", "Signature Version 4 required."
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[3] != "s3" || scope[4] != "aws4_request" {
		return http.StatusBadRequest, "AuthorizationHeaderMalformed", "The authorization header is malformed."
	}
	if scope[0] != f.access {
		return http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
	}
	region := scope[2]
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return http.StatusForbidden, "AccessDenied", "X-Amz-Date is missing or malformed."
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case payload == "UNSIGNED-PAYLOAD":
	case strings.HasPrefix(payload, "STREAMING-"):
		return http.StatusNotImplemented, "NotImplemented", "Streaming payloads are not supported by this server."
	default:
		sum := sha256.Sum256(body)
		if payload != hex.EncodeToString(sum[:]) {
			return http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."
		}
	}
	// Sign a copy that has only the headers the client signed.
	c, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return http.StatusBadRequest, "InvalidRequest", "Bad request URI."
	}
	c.Host = r.Host
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		switch h {
		case "host":
		case "content-length":
			c.ContentLength = r.ContentLength
		default:
			for _, v := range r.Header.Values(h) {
				c.Header.Add(h, v)
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: f.access, SecretAccessKey: f.secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	err = v4.NewSigner().SignHTTP(context.Background(), creds, c, payload, "s3", region, when, func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = true
	})
	if err != nil {
		return http.StatusInternalServerError, "InternalError", "Could not sign."
	}
	if want := c.Header.Get("Authorization"); want != auth {
		return http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	}
	return 0, "", ""
}

// recordHeaders appends the request's Object Lock and encryption headers to the headers file.
func (f *front) recordHeaders(r *http.Request) {
	if f.headers == "" {
		return
	}
	rec := map[string]string{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery}
	for k := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-object-lock-") || strings.HasPrefix(lk, "x-amz-server-side-encryption") || lk == "x-amz-checksum-algorithm" || lk == "x-amz-copy-source" {
			rec[lk] = r.Header.Get(k)
		}
	}
	b, _ := json.Marshal(rec)
	f.mu.Lock()
	defer f.mu.Unlock()
	out, err := os.OpenFile(f.headers, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer out.Close()
	_, _ = out.Write(append(b, '\n'))
}

// selfSigned makes a certificate for 127.0.0.1 and writes it, PEM, to path (the CA a client
// must trust).
func selfSigned(path string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "s3server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
