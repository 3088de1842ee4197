// Common passwords of 10+ characters (shorter ones are refused by length
// anyway), from the most frequent entries of public breach corpora.
const LIST = `
1234567890 0123456789 0987654321 1111111111 0000000000 2222222222 5555555555 9999999999 1212121212 1234512345
123456789a 123456789q a123456789 q123456789 1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx3edc qwertyuiop qwertyuiop123 qwerty1234
qwerty12345 qwerty123456 qwertyqwerty asdfghjkl1 asdfghjkl; asdfasdfasdf zxcvbnm123 zaq12wsxcde qazwsxedcrfv
1qazxsw23edc password12 password123 password1234 password12345 password123! passw0rd123 p@ssw0rd123 p@ssword123
password01 passwordpassword iloveyou12 iloveyou123 iloveyou1234 letmein123 letmein1234 welcome123 welcome1234
welcome2024 welcome2025 welcome2026 abcdefghij abcdefghijk abcdefghijkl abc1234567 abcd123456 abcde12345 aaaaaaaaaa
abcabcabc1 11111111111 123123123123 1234567891 12345678910 1234567899 12345678900 123456789012 1234567890a 1234567890q
9876543210 147258369a 159753456852 football123 baseball123 basketball superman123 batman1234 starwars123 princess123
sunshine123 monkey12345 dragon12345 shadow12345 master12345 michael123 jennifer123 jordan2323 charlie123 liverpool1
chelsea123 arsenal123 manchester computer12 internet12 changeme123 changeme1234 administrator admin12345 admin123456
administrator1 trustno1234 whatever123 holocards1 holocards123 holo123456 cards12345 summer2024 summer2025 winter2025
autumn2026 spring2026 november2026
`
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set(LIST.split(/\s+/).filter((p) => p.length >= 10))
