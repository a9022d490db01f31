-- Which WeChat openid each phone-registered user holds (`UserRegisteredWithPhone`), kept by the
-- `meeting_wechat_tokens` projector so that `UserErased` can mark that user's rows of
-- `mt_wechat_tokens` as erased (the erasure event itself carries no personal data;
-- docs/decisions/0008-crypto-shredding.md). Erased users' rows hold "[erased]".
CREATE TABLE mt_wechat_users (
    user_id   TEXT PRIMARY KEY,
    wechat_id TEXT NOT NULL
);
