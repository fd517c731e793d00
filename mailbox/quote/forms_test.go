package quote

import (
	"strings"
	"testing"

	"github.com/ticketd/ticketd/mailbox/rfc822"
)

// formCase is one form of reply, written as the client named produces it.
type formCase struct {
	name, in, want string
}

func runForms(t *testing.T, cases []formCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Visible(c.in, "", false); got != c.want {
				t.Errorf("visible:\n%s\n--- want:\n%s", got, c.want)
			}
		})
	}
}

// TestVisibleQuoteStructure: what follows a "> " quote decides whether it is
// interleaved (the author's answers between quoted questions), a quote the
// author wrote below or above, or history followed by a trailer.
func TestVisibleQuoteStructure(t *testing.T) {
	runForms(t, []formCase{
		{
			// mutt, Thunderbird bottom-posting with a greeting on top.
			name: "bottom-posted with a greeting on top",
			in: "안녕하세요.\n\n2026-11-20 15:05 GMT+09:00 고객센터 <support@example.test>:\n" +
				"> 서류를 보내 주세요.\n> 감사합니다.\n\n" +
				"서류를 첨부했습니다. 확인 부탁드립니다.\n\n홍길동 드림\n",
			want: "안녕하세요.\n\n서류를 첨부했습니다. 확인 부탁드립니다.\n\n홍길동 드림",
		},
		{
			// A quote without an attribution, answered below: the author
			// chose it as context, so it stays.
			name: "a quote the author chose",
			in:   "> 대출 신청 번호를 알려 주세요.\n\n신청 번호는 2026-1234입니다.\n",
			want: "> 대출 신청 번호를 알려 주세요.\n\n신청 번호는 2026-1234입니다.",
		},
		{
			// The author wrote above and below the client's quote: the
			// quote is context for the text below it.
			name: "text above and below an attributed quote",
			in: "서류 제출 관련해서 두 가지 여쭙니다. 먼저 소득 증빙은 원천징수영수증으로 대신할 수 있나요?\n\n" +
				"2026. 11. 20. 오후 3:12, 고객센터 <support@example.test> 작성:\n> 소득 증빙 서류를 보내 주세요.\n\n" +
				"그리고 재직증명서는 사본도 되나요?\n",
			want: "서류 제출 관련해서 두 가지 여쭙니다. 먼저 소득 증빙은 원천징수영수증으로 대신할 수 있나요?\n\n" +
				"> 소득 증빙 서류를 보내 주세요.\n\n그리고 재직증명서는 사본도 되나요?",
		},
		{
			// Answers between quoted questions: everything stays but the
			// attribution.
			name: "interleaved answers",
			in: "On Fri, 20 Nov 2026 at 15:05, Support <support@example.test> wrote:\n" +
				"> 1. 신청 번호는 무엇인가요?\n\n2026-1234입니다.\n\n> 2. 연락 가능한 시간은요?\n\n오후 2시 이후입니다.\n",
			want: "> 1. 신청 번호는 무엇인가요?\n\n2026-1234입니다.\n\n> 2. 연락 가능한 시간은요?\n\n오후 2시 이후입니다.",
		},
		{
			// Outlook Express and webmail wrap a long quoted line without
			// repeating the ">".
			name: "wrapped quoted lines",
			in: "확인했습니다. 내일 다시 연락드리겠습니다.\n\nOn Fri, 20 Nov 2026 at 15:05, Support <support@example.test> wrote:\n" +
				"> Thank you for writing to us. We have received your documents and will review\n" +
				"them within two working days.\n" +
				"> If anything is missing we will contact you by email or by phone at the number\n" +
				"you gave.\n",
			want: "확인했습니다. 내일 다시 연락드리겠습니다.",
		},
		{
			// A Korean quoted line wrapped by width, not by characters.
			name: "wrapped Korean quoted line",
			in: "네 알겠습니다.\n\n> 안녕하세요 고객님, 서민금융진흥원 고객센터입니다. 문의하신 햇살론 상환 일정은 앱의\n" +
				"대출 메뉴에서 확인하실 수 있습니다.\n> 감사합니다.\n",
			want: "네 알겠습니다.",
		},
		{
			// Mailman's footer below a quote.
			name: "mailing list footer under the quote",
			in: "I have the same problem since yesterday.\n\nOn Fri, 20 Nov 2026, Kim <kim@example.org> wrote:\n" +
				"> The login fails with error 403.\n\n" +
				"_______________________________________________\nusers mailing list\nusers@lists.example.org\n" +
				"https://lists.example.org/mailman/listinfo/users\n",
			want: "I have the same problem since yesterday.",
		},
		{
			// Google Groups' footer.
			name: "google groups footer",
			in: "Same here.\n\n> It fails.\n\n" +
				"You received this message because you are subscribed to the Google Groups \"users\" group.\n" +
				"To unsubscribe from this group and stop receiving emails from it, send an email to users+unsubscribe@example.org.\n",
			want: "Same here.",
		},
		{
			// A Korean company's gateway appends a disclaimer under
			// everything, the quote included.
			name: "Korean disclaimer under the quote",
			in: "첨부 서류 재송부합니다.\n\n2026. 11. 20. 오후 3:12, 고객센터 <support@example.test> 작성:\n\n> 서류가 흐리게 보입니다.\n\n" +
				"본 메일은 발신자가 지정한 수신자만을 위한 것으로 기밀 정보를 포함할 수 있으며, 무단 전재 및 배포 시 법적 책임을 질 수 있습니다.\n",
			want: "첨부 서류 재송부합니다.",
		},
		{
			name: "English disclaimer under the quote",
			in: "Please find the form attached.\n\n> Please send the form.\n\n" +
				"This e-mail and any attachments are confidential and may be privileged. If you are not the intended\n" +
				"recipient, please notify the sender and delete it.\n",
			want: "Please find the form attached.",
		},
		{
			name: "disclaimer without a quote",
			in: "상환일 변경을 요청합니다.\n\n김철수\n\n" +
				"※ 본 메일은 정보통신망법에 따라 보호되는 기밀 정보를 포함하고 있으므로 의도된 수신자가 아닌 경우 즉시 삭제하여 주시기 바랍니다.\n",
			want: "상환일 변경을 요청합니다.\n\n김철수",
		},
		{
			name: "sent-from line under the quote",
			in:   "감사합니다!\n\n> 처리되었습니다.\n\nSent from my Galaxy\n",
			want: "감사합니다!",
		},
		{
			// Text that only mentions the words of a disclaimer stays.
			name: "the words of a disclaimer in text",
			in:   "본 메일은 햇살론 상환 문의입니다. 개인정보가 기밀로 처리되는지 궁금합니다.\n",
			want: "본 메일은 햇살론 상환 문의입니다. 개인정보가 기밀로 처리되는지 궁금합니다.",
		},
	})
}

// TestVisibleAttributions: attribution lines in the forms of more clients
// and languages.
func TestVisibleAttributions(t *testing.T) {
	quoted := "\n> 이전 메일입니다.\n> 두 번째 줄.\n"
	reply := "답장 본문입니다.\n\n"
	cases := []formCase{
		// Thunderbird in Korean.
		{name: "thunderbird ko", in: reply + "2026-11-20 오후 3:05에 홍길동 이(가) 쓴 글:" + quoted, want: "답장 본문입니다."},
		{name: "thunderbird ko address", in: reply + "2026-11-20 오후 3:05에 홍길동 <hong@example.com> 이(가) 쓴 글:" + quoted, want: "답장 본문입니다."},
		{name: "님이 작성", in: reply + "홍길동 님이 작성:" + quoted, want: "답장 본문입니다."},
		{name: "님이 쓴 글", in: reply + "2026년 11월 20일 금요일, 홍길동님이 쓴 글:" + quoted, want: "답장 본문입니다."},
		{
			name: "thunderbird ko bottom-posted",
			in:   "2026-11-20 오후 3:05에 고객센터 이(가) 쓴 글:\n> 서류를 보내 주세요.\n\n보냈습니다.\n",
			want: "보냈습니다.",
		},
		// Gmail, an attribution wrapped before the name.
		{
			name: "two-line attribution",
			in:   reply + "On Fri, 20 Nov 2026 at 15:05,\nHong Gildong <hong@example.com> wrote:\n" + quoted,
			want: "답장 본문입니다.",
		},
		{
			name: "two-line attribution, interleaved",
			in:   "On Fri, 20 Nov 2026 at 15:05,\nHong Gildong <hong@example.com> wrote:\n> 질문 1\n\n답 1\n\n> 질문 2\n\n답 2\n",
			want: "> 질문 1\n\n답 1\n\n> 질문 2\n\n답 2",
		},
		// Daum / Kakao mail.
		{
			name: "daum original mail",
			in: reply + "--------- 원본 메일 ---------\n보낸사람: 고객센터 <support@example.test>\n받는사람: 홍길동 <hong@daum.net>\n" +
				"날짜: 2026.11.20 15:05\n제목: 서류 요청\n\n서류를 보내 주세요.\n",
			want: "답장 본문입니다.",
		},
		{
			name: "dash-framed label before a header block",
			in: reply + "======== Original ========\nFrom: Support <support@example.test>\nDate: 2026-11-20\n" +
				"To: hong@example.com\nSubject: docs\n\nSend the documents.\n",
			want: "답장 본문입니다.",
		},
		// Outlook: a long sender wraps onto a second line.
		{
			name: "outlook wrapped from",
			in: reply + "________________________________\n보낸 사람: 서민금융진흥원 고객센터 상담팀 아주 긴 이름의 담당자\n<support@example.test>\n" +
				"보낸 날짜: 2026년 11월 20일 금요일 오후 3:05\n받는 사람: 홍길동 <hong@example.com>\n제목: 서류 요청\n\n서류를 보내 주세요.\n",
			want: "답장 본문입니다.",
		},
		{
			name: "outlook wrapped From en",
			in: "See attached.\n\nFrom: Customer Center of the Korea Inclusive Finance Agency <support@example.test\n>\n" +
				"Sent: Friday, November 20, 2026 3:05 PM\nTo: Hong <hong@example.com>\nSubject: docs\n\nSend them.\n",
			want: "See attached.",
		},
		// Outlook in French: a space (often a no-break space) before the
		// colon, the block also indented.
		{
			name: "outlook fr",
			in: "Voici le document.\n\nDe : Support <support@example.test>\nEnvoyé : vendredi 20 novembre 2026 15:05\n" +
				"À : Hong <hong@example.com>\nObjet : RE: document\n\nMerci.\n",
			want: "Voici le document.",
		},
		{
			name: "outlook fr nbsp indented",
			in: "Voici le document.\n\n    De\u00a0: Support <support@example.test>\n    Envoyé\u00a0: vendredi 20 novembre 2026 15:05\n" +
				"    À\u00a0: Hong <hong@example.com>\n    Objet\u00a0: RE: document\n\nMerci.\n",
			want: "Voici le document.",
		},
		{
			name: "danish",
			in: "Her er dokumentet.\n\n-------- Oprindelig besked --------\nFra: Support <support@example.test>\nDato: 20. nov. 2026 15.05\n" +
				"Til: hong@example.com\nEmne: dokument\n\nSend det.\n",
			want: "Her er dokumentet.",
		},
		{name: "catalan", in: reply + "El dv., 20 de nov. 2026 a les 15:05, Hong (<hong@example.com>) va escriure:" + quoted, want: "답장 본문입니다."},
		{name: "catalan ha escrit", in: reply + "En/na Hong ha escrit:" + quoted, want: "답장 본문입니다."},
		{name: "polish", in: reply + "W dniu 20.11.2026 o 15:05, Hong <hong@example.com> pisze:" + quoted, want: "답장 본문입니다."},
		{name: "japanese message", in: reply + "2026年11月20日(金) 15:05 山田太郎 <taro@example.jp>のメッセージ:" + quoted, want: "답장 본문입니다."},
		{name: "japanese wrote", in: reply + "山田太郎さんは書きました:" + quoted, want: "답장 본문입니다."},
		{name: "finnish", in: reply + "pe 20. marrask. 2026 klo 15.05 Matti Meikäläinen <matti@example.fi> kirjoitti:" + quoted, want: "답장 본문입니다."},
		{
			name: "finnish wrapped",
			in:   reply + "pe 20. marrask. 2026 klo 15.05 Matti Meikäläinen (\nmatti@example.fi) kirjoitti:\n" + quoted,
			want: "답장 본문입니다.",
		},
		{name: "hungarian", in: reply + "Hong Gildong <hong@example.com> ezt írta (időpont: 2026. nov. 20., P 15:05):" + quoted, want: "답장 본문입니다."},
		{name: "hungarian short", in: reply + "Hong írta:" + quoted, want: "답장 본문입니다."},
		{name: "german", in: reply + "Hong Gildong schrieb:" + quoted, want: "답장 본문입니다."},
		{name: "spanish", in: reply + "Hong Gildong escribió:" + quoted, want: "답장 본문입니다."},
		{name: "portuguese", in: reply + "Hong Gildong escreveu:" + quoted, want: "답장 본문입니다."},
		{name: "dutch", in: reply + "Hong Gildong schreef:" + quoted, want: "답장 본문입니다."},
		{name: "italian", in: reply + "Hong Gildong ha scritto:" + quoted, want: "답장 본문입니다."},
		{name: "chinese", in: reply + "张三 <zhang@example.cn> 于2026年11月20日周五 下午3:05写道：" + quoted, want: "답장 본문입니다."},
		{name: "chinese short", in: reply + "张三写道：" + quoted, want: "답장 본문입니다."},
	}
	runForms(t, cases)
}

// TestVisibleMobileFooters: the lines mail apps add, in open forms.
func TestVisibleMobileFooters(t *testing.T) {
	reply := "서류 다시 보냅니다."
	older := "\n\n이전에 보낸 메일의 본문입니다.\n"
	for _, footer := range []string{
		"Sent from my Galaxy Z Flip6",
		"Sent from my Xperia 10",
		"Sent from my LG G8 ThinQ",
		"Sent from TypeApp",
		"Sent from Mail for Windows",
		"Sent from Yahoo Mail on Android",
		"Get Outlook for iOS<https://aka.ms/o0ukef>",
		"Outlook für Android herunterladen<https://aka.ms/ghei36>",
		"Télécharger Outlook pour iOS<https://aka.ms/o0ukef>",
		"Obtener Outlook para Android<https://aka.ms/ghei36>",
		"iOS용 Outlook 받기<https://aka.ms/o0ukef>",
		"Galaxy에서 보냄",
		"iPhone에서 보냄",
		"Galaxy S24에서 보냈습니다.",
		"네이버 메일 앱에서 보냄",
		"카카오메일 앱에서 보냄",
		"다음 메일 앱에서 보낸 메일입니다.",
		"iPhoneから送信",
	} {
		t.Run(footer, func(t *testing.T) {
			in := reply + "\n\n" + footer + older
			if got := Visible(in, "", false); got != reply {
				t.Errorf("footer %q: visible\n%s", footer, got)
			}
		})
	}
	// A sentence that starts like a footer is text.
	for _, text := range []string{
		"Sent from my office computer yesterday, but it did not arrive, so here it is again.",
		"회사에서 보냈는데 도착하지 않았나요? 다시 보냅니다.",
	} {
		in := reply + "\n\n" + text
		if got := Visible(in, "", false); got != strings.TrimSpace(in) {
			t.Errorf("text %q was cut: %q", text, got)
		}
	}
}

// TestHTMLVisibleForms: the forms of TestVisibleQuoteStructure in HTML
// mail, where the structure marks the quote and the text rules find the
// trailers in what is left.
func TestHTMLVisibleForms(t *testing.T) {
	for _, c := range []formCase{
		{
			// Apple Mail bottom-posting with a greeting on top.
			name: "bottom-posted under a cite blockquote",
			in: `<div>안녕하세요.</div><div><br></div><blockquote type="cite"><div>서류를 보내 주세요.</div></blockquote>` +
				`<div><br></div><div>서류를 첨부했습니다.</div>`,
			want: "안녕하세요.\n\n서류를 첨부했습니다.",
		},
		{
			// A Korean company's gateway disclaimer under a Gmail reply.
			name: "disclaimer under a gmail quote",
			in: `<div dir="ltr">첨부 서류 재송부합니다.</div><br><div class="gmail_quote"><div class="gmail_attr">2026년 11월 20일 (금) 오후 3:12, ` +
				`고객센터 &lt;support@example.test&gt;님이 작성:</div><blockquote class="gmail_quote">서류가 흐리게 보입니다.</blockquote></div>` +
				`<p>본 메일은 발신자가 지정한 수신자만을 위한 것으로 기밀 정보를 포함할 수 있으며, 무단 전재 및 배포 시 법적 책임을 질 수 있습니다.</p>`,
			want: "첨부 서류 재송부합니다.",
		},
		{
			name: "outlook app footer",
			in:   `<div>확인했습니다.</div><div><br></div><div>iOS용 Outlook 받기<a href="https://aka.ms/o0ukef">https://aka.ms/o0ukef</a></div>`,
			want: "확인했습니다.",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Visible(rfc822.HTMLToText(c.in), c.in, true); got != c.want {
				t.Errorf("visible:\n%s\n--- want:\n%s", got, c.want)
			}
		})
	}
}
