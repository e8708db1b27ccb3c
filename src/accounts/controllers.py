"""Accounts API: the OAuth2 password flow that hands out bearer tokens."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.params import Body

from accounts import services
from accounts.schemas import TokenView
from core.i18n import gettext


class TokenRequest(msgspec.Struct):
    username: Annotated[str, msgspec.Meta(max_length=150)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]
    grant_type: str | None = None
    scope: str | None = None


class AuthApi(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]  # noqa: RUF012

    @post("/token", status_code=200, summary="Sign in (OAuth2 password flow) and get a bearer token")
    async def token(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[TokenRequest, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> TokenView:
        user_id = await services.authenticate(data.username, data.password)
        if user_id is None:
            raise NotAuthorizedException(
                detail=gettext("Wrong username or password."),
                headers={"WWW-Authenticate": "Bearer"},
            )
        token, ttl = await services.issue_token(user_id)
        return TokenView(access_token=token, token_type="bearer", expires_in=ttl)
