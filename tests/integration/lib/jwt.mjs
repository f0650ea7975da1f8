// Tokens as the chat reads them: a JWT of claims, signed with HS256 (or of alg "none", with an
// empty signature, which the chat must refuse).
import crypto from "node:crypto";

export const b64url = (b) => Buffer.from(b).toString("base64url");

export function signToken(claims, secret, alg = "HS256") {
  const head = b64url(JSON.stringify({ alg, typ: "JWT" }));
  const body = b64url(JSON.stringify(claims));
  const sig = alg === "none" ? "" : b64url(crypto.createHmac("sha256", secret).update(`${head}.${body}`).digest());
  return `${head}.${body}.${sig}`;
}
